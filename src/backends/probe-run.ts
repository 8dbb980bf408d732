// One synchronous probe command (backend choice, doctor, the door): a
// missing program and a failing one are told apart, and a wedged daemon
// cannot hang `up --dry-run` or `doctor`.

export interface RunResult {
  ok: boolean;
  missing: boolean;
  stdout: string;
}

export function run(argv: string[], env: Record<string, string | undefined>): RunResult {
  const path = env.PATH ?? "";
  const exe = Bun.which(argv[0]!, { PATH: path });
  if (!exe) return { ok: false, missing: true, stdout: "" };
  try {
    const r = Bun.spawnSync([exe, ...argv.slice(1)], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: env as Record<string, string>,
      timeout: 8000,
    });
    return { ok: r.exitCode === 0, missing: false, stdout: r.stdout.toString() };
  } catch {
    return { ok: false, missing: true, stdout: "" };
  }
}

// The same, without blocking: `up` starts it before it loads the manifests.
export async function runAsync(argv: string[], env: Record<string, string | undefined>): Promise<RunResult> {
  const exe = Bun.which(argv[0]!, { PATH: env.PATH ?? "" });
  if (!exe) return { ok: false, missing: true, stdout: "" };
  try {
    const p = Bun.spawn([exe, ...argv.slice(1)], { stdin: "ignore", stdout: "pipe", stderr: "ignore", env: env as Record<string, string>, timeout: 8000 });
    const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    return { ok: code === 0, missing: false, stdout };
  } catch {
    return { ok: false, missing: true, stdout: "" };
  }
}
