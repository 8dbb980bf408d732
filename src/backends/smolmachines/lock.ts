import { waitLock } from "../../state/lock.ts";

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
// How: an in-process queue (so one process never races itself) plus the
// lock file of src/state/lock.ts (so two claude-bottle processes on one
// machine serialize too; a dead holder's lock is taken over atomically).

const queues = new Map<string, Promise<unknown>>();

export async function withMachineLock<T>(lockFile: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const prev = queues.get(lockFile) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => mine);
  queues.set(lockFile, tail);
  try {
    await prev.catch(() => {});
    const lock = await waitLock(lockFile, timeoutMs);
    try {
      return await fn();
    } finally {
      lock.release();
    }
  } finally {
    release();
    if (queues.get(lockFile) === tail) queues.delete(lockFile);
  }
}
