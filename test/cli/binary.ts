import { BIN, ROOT, ensureDist } from "../../scripts/lib/dist.ts";

// The compiled binary under test, built once per test run with the real
// build script when dist/ is stale (the rule: scripts/lib/dist.ts).
export { BIN, ROOT };

let built = false;
export function ensureBuilt(): void {
  if (built) return;
  ensureDist();
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
