// A stack of undo actions. Each launch step pushes how to undo itself
// *before* it creates anything (a half-created container must be found by
// the undo, too), so a failure or a signal at any point unwinds exactly what
// exists, in reverse. Undo actions must be idempotent: `down` and `cleanup`
// reuse the same functions against half-gone resources.

export interface UndoFailure {
  name: string;
  error: unknown;
}

export class RollbackStack {
  private actions: { name: string; run: () => Promise<void> | void }[] = [];
  private unwinding: Promise<UndoFailure[]> | null = null;

  push(name: string, run: () => Promise<void> | void): void {
    if (this.unwinding) throw new Error(`rollback: cannot push '${name}' while unwinding`);
    this.actions.push({ name, run });
  }

  get size(): number {
    return this.actions.length;
  }

  names(): string[] {
    return this.actions.map((a) => a.name);
  }

  // Forget everything: the resources now outlive this process (`up -d`).
  commit(): void {
    this.actions = [];
  }

  // Runs every action, newest first. One failing undo doesn't stop the rest
  // (leaving a gate running because a container refused to stop is worse);
  // failures are returned for the caller to report. Concurrent calls share
  // one run.
  unwind(): Promise<UndoFailure[]> {
    if (this.unwinding) return this.unwinding;
    this.unwinding = (async () => {
      const failures: UndoFailure[] = [];
      while (this.actions.length > 0) {
        const a = this.actions.pop()!;
        try {
          await a.run();
        } catch (error) {
          failures.push({ name: a.name, error });
        }
      }
      return failures;
    })();
    return this.unwinding;
  }
}
