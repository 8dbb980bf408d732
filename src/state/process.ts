import { readdirSync, readFileSync, unlinkSync } from "node:fs";
import { resolve } from "node:path";

// Small helpers over pids. Every kill goes through `ownedBy`: a pidfile can
// outlive its process and the pid be reused by something unrelated, so we
// only signal a process whose command line still names the bottle's state
// directory.

export function readPid(file: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    return Number.isInteger(n) && n > 1 ? n : null;
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: exists but not ours; still alive.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  // A zombie (exited, not yet reaped by its parent) still answers kill(0).
  return !isZombie(pid);
}

// A zombie has exited but its parent has not reaped it yet. For a
// multi-threaded process (bun is one) the leader shows Z as soon as its own
// thread is gone, while the other threads still hold the fd table, and with
// it the gate's listening socket: dead only once every thread is.
function isZombie(pid: number): boolean {
  const state = (statFile: string): string | null => {
    try {
      const stat = readFileSync(statFile, "utf8");
      // pid (comm) STATE ...; comm may contain spaces and parentheses.
      const i = stat.lastIndexOf(")");
      return stat.slice(i + 2, i + 3);
    } catch {
      return null;
    }
  };
  const dead = (s: string | null) => s === "Z" || s === "X";
  if (!dead(state(`/proc/${pid}/stat`))) return false;
  try {
    return readdirSync(`/proc/${pid}/task`).every((t) => {
      const s = state(`/proc/${pid}/task/${t}/stat`);
      return s === null || dead(s);
    });
  } catch {
    return true;
  }
}

export function commandLine(pid: number): string | null {
  const argv = argvOf(pid);
  if (argv !== null) return argv.join(" ").trim();
  return psCommand(pid);
}

// The process's arguments one by one, where the system keeps them apart
// (/proc); null elsewhere.
function argvOf(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    const argv = raw.split("\0");
    if (argv.at(-1) === "") argv.pop();
    return argv;
  } catch {
    return null;
  }
}

// No /proc (macOS): ask ps, which joins the arguments with spaces.
function psCommand(pid: number): string | null {
  try {
    const r = Bun.spawnSync(["ps", "-o", "command=", "-p", String(pid)], { stdout: "pipe", stderr: "ignore" });
    const out = r.stdout.toString().trim();
    return r.exitCode === 0 && out.length > 0 ? out : null;
  } catch {
    return null;
  }
}

// Whether the process's arguments hold `marker` (one argument, or several
// in a row). Compared argument by argument where /proc keeps them apart: an
// unrelated process may carry our words inside one argument of its own (a
// search for the state folder), which joined with spaces would read as
// ours. Whole words on the joined line where only ps can tell.
export function ownedBy(pid: number, marker: string | readonly string[]): boolean {
  if (!isAlive(pid)) return false;
  const words = typeof marker === "string" ? [marker] : marker;
  const argv = argvOf(pid);
  if (argv !== null) return argv.some((_, i) => words.every((w, j) => argv[i + j] === w));
  const cmd = psCommand(pid);
  // Whole-word match: state dir "…/a-abcde" must not match "…/a-abcde-x".
  return cmd !== null && ` ${cmd} `.includes(` ${words.join(" ")} `);
}

// What a bottle's gate process has on its command line (src/supervise/
// gate.ts builds it): the subcommand and the state dir, so neither another
// bottle's gate nor this bottle's supervisor (`supervise-gate --state …`)
// matches.
export function gateMarker(stateDir: string): readonly string[] {
  return ["gate", "--state", resolve(stateDir)];
}

export function ownedGate(pid: number, stateDir: string): boolean {
  return ownedBy(pid, gateMarker(stateDir));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// SIGTERM, wait up to graceMs, then SIGKILL. Resolves once the process is gone
// (or was never ours). Harmless to call twice.
export async function terminate(pid: number, marker: string | readonly string[], graceMs = 3000): Promise<boolean> {
  if (!ownedBy(pid, marker)) return false;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return false;
  }
  // Polled often: our processes exit within milliseconds of SIGTERM, and
  // `down` waits for them.
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(10);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
  for (let i = 0; i < 40 && isAlive(pid); i++) await sleep(25);
  return true;
}

export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
