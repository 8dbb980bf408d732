import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

// A per-machine exec lock.
//
// Why: smolvm's guest agent keeps ONE OCI bundle per machine overlay
// (`<overlay>/bundle/config.json`) and rewrites it for every exec that does
// not join an already-running main container (crates/smolvm-agent/src/
// main.rs::spawn_interactive_command -> ensure_main_container /
// write_oci_bundle). Two such execs at once race on that file; the original
// system saw exactly that with concurrent `machine exec`. Execs that join a
// running main container go through `crun exec` and write no bundle
// (spawn_exec_in_container), so the window is the start of an exec.
//
// How: an in-process queue (so one process never races itself) plus an
// O_EXCL lock file holding our pid (so two claude-bottle processes on one
// machine serialize too). A lock whose holder is dead (kill -9) is stale.
// Waiting backs off from 5 ms to 200 ms; no fixed sleeps.

const queues = new Map<string, Promise<unknown>>();

export async function withMachineLock<T>(lockFile: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const prev = queues.get(lockFile) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => mine);
  queues.set(lockFile, tail);
  try {
    await prev.catch(() => {});
    const unlock = await acquireFileLock(lockFile, timeoutMs);
    try {
      return await fn();
    } finally {
      unlock();
    }
  } finally {
    release();
    if (queues.get(lockFile) === tail) queues.delete(lockFile);
  }
}

export async function acquireFileLock(file: string, timeoutMs: number): Promise<() => void> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        if (holderPid(file) === process.pid) rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = holderPid(file);
    if (holder === null || !alive(holder)) {
      // Stale (or half-written by a process that died): take it over.
      rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${file} (held by process ${holder})`);
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
}

function holderPid(file: string): number | null {
  try {
    const n = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
