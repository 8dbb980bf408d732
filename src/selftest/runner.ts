import type { AuditRecord } from "../gate/types.ts";
import type { Window } from "./receivers/record.ts";
import type { Evidence, ExecResult, Verdict } from "./types.ts";

// Runs attacks one at a time against whatever sandbox, and gathers each
// one's evidence: what the attacker printed, the sandbox's audit (if it
// keeps one) and what the receivers got meanwhile.
//
// An arrival after an attack ended (a slow datagram) still belongs to it:
// before each attack, whatever came in since the last one is added to the
// last one's evidence, and that attack is judged again (its `update` is
// called with the new verdict).

export type Judge = (ev: Evidence, overflowed: boolean) => Verdict;

export interface SandboxRun {
  exec: ExecResult;
  audit: () => AuditRecord[]; // read after the runner's grace period
}

export function attackRunner(collect: () => Window) {
  let last: { ev: Evidence; judge: Judge; update: (v: Verdict) => void } | null = null;
  const settle = () => {
    const stray = collect();
    if (!last || (stray.arrivals.length === 0 && !stray.overflowed)) return;
    last.ev.arrivals.push(...stray.arrivals);
    last.update(last.judge(last.ev, stray.overflowed));
  };
  const run = async (sandbox: () => Promise<SandboxRun>, judge: Judge, update: (v: Verdict) => void): Promise<Evidence> => {
    settle();
    const got = await sandbox();
    // Audit lines are appended as the gate decides; datagrams may still be
    // in flight: give both a moment.
    await Bun.sleep(100);
    const w = collect();
    const ev: Evidence = { exec: got.exec, audit: got.audit(), arrivals: w.arrivals };
    last = { ev, judge, update };
    update(judge(ev, w.overflowed));
    return ev;
  };
  return { run, settle };
}
