import { appendFileSync } from "node:fs";
import type { GateSecrets } from "../gate/types.ts";
import { isStopping } from "../state/dirs.ts";
import { paths } from "../state/paths.ts";
import { isAlive, readPid } from "../state/process.ts";
import { spawnGate, stopGate } from "./gate.ts";
import { probeGate, waitForGate } from "./probe.ts";

// Keeps a bottle's gate running while the agent works. It lives in the
// `up` process (foreground) or in the detached `supervise-gate` process
// (`up -d`), the only places that still hold the GateSecrets: they are in
// memory only, so a restarted gate gets exactly the same credentials.
//
// While the gate is down the bottle has no way out: its relay's connect to
// the socket is refused. Nothing fails open in the meantime.
//
// Behind the bridge door (backends/docker/bridge.ts) the bottle's way out
// also needs its bridge container; the backend's DoorKeeper looks after it
// here, every doorEveryMs (a docker call each time, so not every tick).
// While the bridge is down the bottle's relay finds nobody listening on
// the socket in the volume: closed, not open, as with the gate.

// Whatever looks after the door besides the gate: a backend supplies it
// (docker's bridge door: backends/docker/index.ts doorKeeper). `ensure`
// says what it found wrong and put right, null when all was well, and
// throws when it could not.
export interface DoorKeeper {
  what: string;
  ensure(): Promise<string | null>;
}

export interface GateEvent {
  what: string; // "gate", or the door keeper's ("bridge")
  kind: "restarted" | "restart-failed";
  reason: string;
  pid: number | null;
}

export interface WatchOptions {
  slug: string;
  stateDir: string;
  secrets: GateSecrets;
  command?: string[];
  intervalMs?: number;
  onEvent?: (e: GateEvent) => void;
  door?: DoorKeeper | null;
  doorEveryMs?: number; // default 2000
}

export interface GateWatcher {
  stop(): Promise<void>;
  // Resolves after the next completed check (tests).
  checked(): Promise<void>;
}

// Not an AuditRecord (no request was decided), so `ls` counts of
// allowed/blocked ignore it; `logs` shows it as an event.
function auditEvent(stateDir: string, slug: string, e: GateEvent): void {
  if (isStopping(stateDir)) return;
  const line = { time: new Date().toISOString(), bottle: slug, event: `${e.what}-${e.kind}`, reason: e.reason, pid: e.pid, layer: "gate" };
  try {
    appendFileSync(paths.audit(stateDir), JSON.stringify(line) + "\n", { mode: 0o600 });
  } catch {
    // state dir gone: the bottle is being torn down
  }
}

export function watchGate(opts: WatchOptions): GateWatcher {
  const interval = opts.intervalMs ?? 500;
  let stopped = false;
  let waiters: (() => void)[] = [];
  let failuresInARow = 0;
  let backoff = interval;

  async function check(): Promise<void> {
    if (isStopping(opts.stateDir)) return;
    const socket = paths.gateSocket(opts.stateDir);
    const pid = readPid(paths.gatePid(opts.stateDir));
    const alive = pid !== null && isAlive(pid);
    if (alive && (await probeGate(socket, 1000))) {
      failuresInARow = 0;
      backoff = interval;
      return;
    }
    // A live but silent gate gets one more chance (it may be busy); a dead
    // one is restarted at once.
    if (alive && ++failuresInARow < 2) return;
    if (stopped || isStopping(opts.stateDir)) return;
    const reason = alive ? `gate pid ${pid} stopped answering on its socket` : `gate process ${pid ?? "?"} is gone`;
    await stopGate(opts.stateDir); // a hung gate is killed; stale socket removed
    if (stopped || isStopping(opts.stateDir)) return;
    try {
      const g = await spawnGate({ stateDir: opts.stateDir, secrets: opts.secrets, command: opts.command });
      const ok = await waitForGate(socket, { timeoutMs: 10_000, stillWorth: () => !stopped && isAlive(g.pid) });
      const e: GateEvent = ok
        ? { what: "gate", kind: "restarted", reason, pid: g.pid }
        : { what: "gate", kind: "restart-failed", reason: `${reason}; the new gate (pid ${g.pid}) did not answer`, pid: g.pid };
      failuresInARow = 0;
      backoff = ok ? interval : Math.min(backoff * 2, 5000);
      auditEvent(opts.stateDir, opts.slug, e);
      opts.onEvent?.(e);
    } catch (err) {
      backoff = Math.min(backoff * 2, 5000);
      const e: GateEvent = { what: "gate", kind: "restart-failed", reason: `${reason}; restart failed: ${(err as Error).message}`, pid: null };
      auditEvent(opts.stateDir, opts.slug, e);
      opts.onEvent?.(e);
    }
  }

  const doorEvery = opts.doorEveryMs ?? 2000;
  let doorCheckedAt = 0;
  async function checkDoor(): Promise<void> {
    const keeper = opts.door;
    if (!keeper || Date.now() - doorCheckedAt < doorEvery) return;
    doorCheckedAt = Date.now();
    if (stopped || isStopping(opts.stateDir)) return;
    let e: GateEvent | null;
    try {
      const wrong = await keeper.ensure();
      e = wrong === null ? null : { what: keeper.what, kind: "restarted", reason: wrong, pid: null };
    } catch (err) {
      e = { what: keeper.what, kind: "restart-failed", reason: (err as Error).message, pid: null };
    }
    if (e) {
      auditEvent(opts.stateDir, opts.slug, e);
      opts.onEvent?.(e);
    }
  }

  let wake: (() => void) | null = null;
  const nap = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });

  const loop = (async () => {
    while (!stopped) {
      await nap(backoff);
      if (stopped) break;
      try {
        await check();
        await checkDoor();
      } finally {
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      }
    }
  })();

  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      for (const f of waiters) f();
      waiters = [];
    },
    checked() {
      return new Promise<void>((r) => waiters.push(r));
    },
  };
}
