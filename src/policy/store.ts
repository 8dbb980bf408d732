import { existsSync, renameSync, writeFileSync } from "node:fs";
import { UserError } from "../errors.ts";
import { readPolicy } from "../gate/policy/file.ts";
import type { GatePolicy } from "../gate/types.ts";
import { bottleHome, paths } from "../state/paths.ts";
import { ownedGate, readPid } from "../state/process.ts";
import { checkSlug } from "../state/slug.ts";

// The operator's side of a bottle's policy.json: find a bottle's state
// directory, write the policy, tell its running gate (SIGHUP). The gate
// itself only reads the file (gate/policy/file.ts).

export function stateDirFor(slug: string, env: Record<string, string | undefined> = process.env): string {
  const dir = paths.stateDir(bottleHome(env), checkSlug(slug));
  if (!existsSync(paths.policy(dir))) throw new UserError(`no bottle '${slug}' (no ${paths.policy(dir)}); see 'claude-bottle ls'`);
  return dir;
}

// Temp file + rename: a gate reloading at the same moment reads the old or
// the new policy, never half of one.
export function writePolicy(stateDir: string, policy: GatePolicy): void {
  const p = paths.policy(stateDir);
  const tmp = `${p}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, JSON.stringify(policy, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, p);
}

export type SignalResult = { running: true; pid: number } | { running: false };

// SIGHUP to the gate named in gate.pid, only if that pid is still this
// bottle's gate: a pidfile outlives its process, and the pid may since
// belong to anything (SIGHUP ends most programs).
export function signalGate(stateDir: string): SignalResult {
  const pid = readPid(paths.gatePid(stateDir));
  if (pid === null || !ownedGate(pid, stateDir)) return { running: false };
  try {
    process.kill(pid, "SIGHUP");
    return { running: true, pid };
  } catch {
    return { running: false };
  }
}

// Read, edit, write atomically, signal. Returns what the edit returned and
// whether a running gate was told.
export function applyEdit<T extends { policy: GatePolicy }>(
  stateDir: string,
  edit: (p: GatePolicy) => T,
  changed: (r: T, before: GatePolicy) => boolean = (r, before) => r.policy !== before,
): { result: T; signal: SignalResult | null } {
  const before = readPolicy(stateDir);
  const result = edit(before);
  if (!changed(result, before)) return { result, signal: null };
  writePolicy(stateDir, result.policy);
  return { result, signal: signalGate(stateDir) };
}
