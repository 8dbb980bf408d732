import { closeSync, openSync, readSync } from "node:fs";
import { relayListenLine } from "../guest.ts";
import type { ContainerFacts } from "./api.ts";

// Is a just-started bottle's relay listening? Read from the host, in the
// kernel's TCP table of the container's network namespace
// (/proc/<pid>/net/tcp of its first process), instead of an exec in the
// bottle (a round trip through the engine: about 60 ms here). Possible only
// where the engine runs on this kernel, in this pid namespace; anything we
// cannot be sure of answers "unknown" and provisioning waits from inside as
// before. Read-only: nothing is asked of the bottle.

// The host's view of a process, as files: injectable for the unit tests.
export interface ProcView {
  read(path: string): string | null; // null: no such file (or not readable)
}

// One read(2) into a buffer that holds a small bottle's whole table: the
// kernel makes /proc/<pid>/net/tcp by walking the host's whole TCP hash
// (every namespace's sockets), 1.7 ms on this machine, and readFileSync
// reads twice (the second read, for its end of file, walks again).
const buffer = Buffer.alloc(64 * 1024);
const realProc: ProcView = {
  read(path) {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      return null;
    }
    try {
      return buffer.toString("latin1", 0, readSync(fd, buffer, 0, buffer.length, null));
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
  },
};

// Pure but for the reads: the pid the engine gave is this container's on
// this host only if that process's cgroup names the container's full id (an
// engine in a VM or another pid namespace gives a pid that means nothing
// here, or another process).
export function isContainerPid(facts: ContainerFacts, proc: ProcView = realProc): boolean {
  if (facts.pid <= 0 || !/^[0-9a-f]{64}$/.test(facts.id)) return false;
  const cgroup = proc.read(`/proc/${facts.pid}/cgroup`);
  return cgroup !== null && cgroup.includes(facts.id);
}

export type RelayWait = "listening" | "unknown" | "exited" | "timeout";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The first process is gone: did the bottle stop (the engine says so
// within a moment), or was that pid never one we could see? Asked again
// for up to a second.
async function stopped(refresh: (() => Promise<ContainerFacts | null>) | undefined): Promise<boolean> {
  if (!refresh) return false;
  const deadline = Date.now() + 1000;
  do {
    const f = await refresh();
    if (f === null) return false;
    if (!f.running) return true;
    await sleep(10);
  } while (Date.now() < deadline);
  return false;
}

// Polls the container's TCP table (1 ms doubling to 20 ms) until the relay
// listens. "exited": the bottle stopped as it started (e.g. its home did
// not unpack), as the engine confirms (`refresh` asks it again).
export async function waitRelayOnHost(
  facts: ContainerFacts | null,
  opts: { port?: number; timeoutMs?: number; proc?: ProcView; refresh?: () => Promise<ContainerFacts | null> } = {},
): Promise<RelayWait> {
  if (process.platform !== "linux" && !opts.proc) return "unknown";
  if (facts === null) return "unknown";
  if (!facts.running) return "exited";
  const proc = opts.proc ?? realProc;
  const gone = () => proc.read(`/proc/${facts.pid}/stat`) === null;
  if (!isContainerPid(facts, proc)) return gone() && (await stopped(opts.refresh)) ? "exited" : "unknown";
  const line = relayListenLine(opts.port);
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let delay = 1;
  for (;;) {
    const table = proc.read(`/proc/${facts.pid}/net/tcp`);
    if (table === null) return gone() && (await stopped(opts.refresh)) ? "exited" : "unknown";
    if (table.includes(line)) return "listening";
    if (Date.now() >= deadline) return "timeout";
    await sleep(delay);
    delay = Math.min(delay * 2, 20);
  }
}
