import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

// The compiled binary under test. Built once per test run with the real
// build script when dist/ is missing or older than any source file.
export const ROOT = join(import.meta.dir, "../..");
export const BIN = join(ROOT, "dist", "claude-bottle");

function newestMtime(dir: string): number {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) max = Math.max(max, newestMtime(p));
    else if (e.isFile()) max = Math.max(max, statSync(p).mtimeMs);
  }
  return max;
}

let built = false;
export function ensureBuilt(): void {
  if (built) return;
  const stale =
    !existsSync(BIN) ||
    statSync(BIN).mtimeMs < Math.max(newestMtime(join(ROOT, "src")), statSync(join(ROOT, "package.json")).mtimeMs);
  if (stale) {
    const r = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`bun run build failed:\n${r.stderr.toString()}`);
  }
  built = true;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Runs the binary with exactly the given environment (plus PATH and a HOME
// when not given), so the developer's own tokens never leak into a test.
export async function runBin(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", ...opts.env };
  const p = Bun.spawn([BIN, ...args], { cwd: opts.cwd ?? ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

export function stripAnsi(s: string): string {
  return s.replace(/\x1b\[[0-9;]*m/g, "");
}
