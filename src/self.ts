import { join } from "node:path";

// How to run this very program again as a child process (the gate, the git
// pre-receive hook, the supervisor). Compiled: the executable itself.
// From source: bun + src/cli.ts. Nothing in the environment can name
// another program: these children receive the secrets on stdin.
export function selfCommand(): string[] {
  if (isCompiled()) return [process.execPath];
  return [process.execPath, join(import.meta.dir, "cli.ts")];
}

// `bun build --compile` executables see their modules under a virtual
// /$bunfs/ root (B:/~BUN/ on Windows).
export function isCompiled(): boolean {
  return import.meta.dir.startsWith("/$bunfs") || import.meta.dir.includes("~BUN");
}
