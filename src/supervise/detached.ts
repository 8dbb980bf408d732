import { closeSync, openSync } from "node:fs";

// Starting one of our long-lived children (the gate, its supervisor):
// detached (its own session: a Ctrl-C on the terminal reaches `up` only,
// and with `up -d` it outlives `up`), its stdout and stderr appended to a
// file (0600), and `input` (the secrets: one JSON document) written to its
// stdin, which then closes: never argv, never a file. Resolves to its pid
// once it runs.
//
// Bun.spawn, not node:child_process: 0.5 ms against 3.5 (measured, compiled,
// bun 1.4.4), and the gate is started on the way to the bottle's start.
export async function spawnDetached(
  argv: string[],
  opts: { input: string; output: string; env: Record<string, string>; cwd: string },
): Promise<number> {
  const out = openSync(opts.output, "a", 0o600);
  try {
    let child: Bun.Subprocess<"pipe", number, number>;
    try {
      child = Bun.spawn(argv, { detached: true, stdin: "pipe", stdout: out, stderr: out, env: opts.env, cwd: opts.cwd });
    } catch (e) {
      throw new Error(`could not start ${argv[0]}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      // A child that dies before reading closes the pipe: its readiness
      // check reports that, not this write.
      child.stdin.write(opts.input);
      await child.stdin.end();
    } catch {
      // reported by the caller's readiness check
    }
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}
