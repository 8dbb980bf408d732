import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// A throw-away git repository with a hermetic config and a fixed identity,
// for tests that judge code on objects and packs the real git writes.
export function tempRepo(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "A",
    GIT_AUTHOR_EMAIL: "a@example.invalid",
    GIT_COMMITTER_NAME: "A",
    GIT_COMMITTER_EMAIL: "a@example.invalid",
  };
  // Synchronous: nothing in these tests serves git from this process.
  const git = (args: string[], stdin?: string, extra: Record<string, string> = {}): Buffer => {
    const r = Bun.spawnSync(["git", ...args], { cwd: dir, env: { ...env, ...extra }, stdin: stdin === undefined ? "ignore" : Buffer.from(stdin) });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    return r.stdout;
  };
  git(["init", "-q"]);
  return { dir, git, done: () => rmSync(dir, { recursive: true, force: true }) };
}
