import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { GateSecrets } from "../gate/types.ts";
import { gateEnv } from "../child-env.ts";
import { selfCommand } from "../self.ts";
import { paths } from "../state/paths.ts";
import { gateMarker, readPid, removeQuietly, terminate } from "../state/process.ts";
import { spawnDetached } from "./detached.ts";

// Starting and stopping a bottle's gate process.
//
// The gate runs detached (its own session and process group): a Ctrl-C on
// the terminal reaches `up`, which then tears down in order (bottle first,
// then gate), instead of killing the gate under a still-running bottle; and
// with `up -d` the gate outlives `up`. Secrets go in on stdin, one JSON
// document, then stdin closes: never argv, never a file.

export function gateCommand(stateDir: string): string[] {
  // Ends with gateMarker(stateDir): how a pid is recognised as this gate.
  return [...selfCommand(), "gate", "--state", resolve(stateDir)];
}

export interface StartedGate {
  pid: number;
}

export async function spawnGate(opts: {
  stateDir: string;
  secrets: GateSecrets;
  command?: string[];
}): Promise<StartedGate> {
  const argv = opts.command ?? gateCommand(opts.stateDir);
  // The gate logs to gate.log itself; gate.out only catches what it prints
  // before its logger is up (or a crash). An allowlisted environment and the
  // state dir as working directory: nothing of the user's shell or
  // repository reaches the process that holds the credentials
  // (src/child-env.ts).
  const pid = await spawnDetached(argv, { input: JSON.stringify(opts.secrets), output: paths.gateOut(opts.stateDir), env: gateEnv(process.env), cwd: resolve(opts.stateDir) });
  writeFileSync(paths.gatePid(opts.stateDir), `${pid}\n`, { mode: 0o600 });
  return { pid };
}

// Stop the gate of a bottle and remove its socket. Idempotent: no pidfile,
// a dead pid, or a pid now used by another program are all fine.
export async function stopGate(stateDir: string): Promise<void> {
  const pid = readPid(paths.gatePid(stateDir));
  if (pid !== null) await terminate(pid, gateMarker(stateDir));
  removeQuietly(paths.gatePid(stateDir));
  removeQuietly(paths.gateSocket(stateDir));
}
