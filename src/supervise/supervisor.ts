import { existsSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { GateSecrets } from "../gate/types.ts";
import { supervisorEnv } from "../child-env.ts";
import { selfCommand } from "../self.ts";
import { isStopping } from "../state/dirs.ts";
import { paths } from "../state/paths.ts";
import { isAlive, readPid, removeQuietly } from "../state/process.ts";
import { spawnDetached } from "./detached.ts";
import { watchGate, type DoorKeeper } from "./watcher.ts";

// `up -d` leaves no `up` process behind to watch the gate, so a small
// detached supervisor (`claude-bottle supervise-gate --state <dir>`, hidden)
// takes over. It gets the GateSecrets on stdin like the gate and keeps them
// in memory only, to restart the gate with the same credentials.

export function supervisorCommand(stateDir: string): string[] {
  return [...selfCommand(), "supervise-gate", "--state", resolve(stateDir)];
}

export async function spawnSupervisor(opts: {
  stateDir: string;
  secrets: GateSecrets;
  command?: string[];
  timeoutMs?: number;
}): Promise<number> {
  const argv = opts.command ?? supervisorCommand(opts.stateDir);
  // The gate's allowlisted environment (src/child-env.ts), plus what names
  // the docker engine: behind the bridge door it restarts the bridge
  // container on the same engine `up` used. The gate it starts gets the
  // gate's environment again, without those.
  const pid = await spawnDetached(argv, { input: JSON.stringify(opts.secrets), output: paths.supervisorLog(opts.stateDir), env: supervisorEnv(process.env), cwd: resolve(opts.stateDir) });
  // Ready once it has read its secrets and written its pidfile.
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (readPid(paths.supervisorPid(opts.stateDir)) === pid) return pid;
    if (!isAlive(pid)) break;
    await Bun.sleep(10);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // gone
  }
  throw new Error(`the gate supervisor did not start; see ${paths.supervisorLog(opts.stateDir)}`);
}

// The supervisor process body. Returns when the bottle is being stopped
// (`down` writes .stopping, or the state dir is gone) or on SIGTERM.
export async function runSupervisor(opts: {
  stateDir: string;
  slug: string;
  secrets: GateSecrets;
  gateCommand?: string[];
  intervalMs?: number;
  door?: DoorKeeper | null;
}): Promise<void> {
  writeFileSync(paths.supervisorPid(opts.stateDir), `${process.pid}\n`, { mode: 0o600 });
  const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
  const w = watchGate({
    slug: opts.slug,
    stateDir: opts.stateDir,
    secrets: opts.secrets,
    command: opts.gateCommand,
    intervalMs: opts.intervalMs,
    onEvent: (e) => log(`${e.what} ${e.kind}: ${e.reason}`),
    door: opts.door,
  });
  await new Promise<void>((resolve) => {
    const done = () => {
      clearInterval(t);
      process.off("SIGTERM", done);
      process.off("SIGINT", done);
      resolve();
    };
    const t = setInterval(() => {
      if (isStopping(opts.stateDir)) done();
    }, 250);
    process.on("SIGTERM", done);
    process.on("SIGINT", done);
  });
  await w.stop();
  if (existsSync(opts.stateDir) && readPid(paths.supervisorPid(opts.stateDir)) === process.pid) {
    removeQuietly(paths.supervisorPid(opts.stateDir));
  }
}
