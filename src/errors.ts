// Errors a user can act on. The CLI prints `claude-bottle: <message>` on one
// line and exits non-zero, with no stack trace unless --debug is given.
// Messages must never contain a secret value: name the variable instead.
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "UserError";
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
