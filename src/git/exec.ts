import { childEnv } from "../child-env.ts";

// Running git children from the gate and the hook. The environment is built
// from an allowlist (src/child-env.ts): the gate's own environment may hold
// host secrets that no git child needs (a hook inherits it through
// http-backend and receive-pack), and no variable may choose a proxy or a CA.
export function baseEnv(from: Record<string, string | undefined> = process.env): Record<string, string> {
  return childEnv(from);
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

const MAX_CAPTURE = 1 << 20;

async function capped(stream: ReadableStream<Uint8Array>): Promise<string> {
  const dec = new TextDecoder();
  let out = "";
  for await (const chunk of stream) {
    if (out.length < MAX_CAPTURE) out += dec.decode(chunk, { stream: true });
  }
  return out.slice(0, MAX_CAPTURE);
}

export async function git(
  args: string[],
  opts: { cwd?: string; env: Record<string, string>; stdin?: string },
): Promise<GitResult> {
  const proc = Bun.spawn(["git", ...args], {
    cwd: opts.cwd,
    env: opts.env,
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([capped(proc.stdout), capped(proc.stderr), proc.exited]);
  return { code, stdout, stderr };
}

const VERDICT =
  /^(fatal|error):|verification failed|Permission denied|Could not resolve|Connection refused|Connection timed out|No route to host|not found|does not appear to be a git repository|Authentication failed|returned error/i;

// The last few meaningful lines of git's stderr, for a message to the user,
// with every known secret value cut out.
export function gitError(stderr: string, secrets: readonly string[] = [], lines = 3): string {
  let text = stderr;
  for (const s of secrets) if (s.length >= 4) text = text.split(s).join("[redacted]");
  const kept = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^(hint|warning):/.test(l));
  // git's and ssh's verdicts say most; the rest is advice and banners.
  const verdict = kept.filter((l) => VERDICT.test(l) && !/^fatal: Could not read from remote repository/.test(l));
  return (verdict.length > 0 ? verdict : kept).slice(-lines).join("; ") || "git failed";
}
