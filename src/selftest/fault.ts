import { readFileSync } from "node:fs";
import { paths } from "../state/paths.ts";
import { isAlive, ownedBy, readPid } from "../state/process.ts";
import { judgeGateDown } from "./judges.ts";
import type { Attack, AttackContext, AttackOutcome, Evidence, Verdict } from "./types.ts";

// The fault case, specific to claude-bottle's supervised gate: kill the
// gate and prove the bottle is cut off WHILE it is down, then prove the
// supervisor's restart brings the door back.
//
// The supervisor restarts a dead gate within about half a second, so a
// request sent "after the kill" may well reach the NEW gate and prove
// nothing. The supervisor (our own process, checked by its command line) is
// therefore held with SIGSTOP from before the kill until the request has
// been judged, and the proof reads gate.pid before and after: still the
// dead gate's pid, the supervisor still stopped. Only then is it let go
// (SIGCONT), and the restart is read from gate.pid and the supervisor's log.

type RunOne = (a: Attack, control: boolean, judge?: (ev: Evidence) => Verdict) => Promise<AttackOutcome>;

function stopped(pid: number): boolean {
  try {
    // /proc/<pid>/stat: "pid (comm) S ...": the state after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return /^[Tt]$/.test(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? "");
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(f: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (f()) return true;
    await sleep(50);
  }
  return f();
}

const fail = (a: Pick<Attack, "id" | "title" | "expected">, detail: string, ran = false): AttackOutcome => ({
  id: a.id,
  category: 10,
  title: a.title,
  expected: a.expected,
  observed: null,
  ran,
  blocked: false,
  pass: false,
  detail,
});

export async function gateFaultCases(stateDir: string, ctx: AttackContext, control: Attack, run: RunOne): Promise<AttackOutcome[]> {
  const killed = { ...control, id: "10.gate-killed", category: 10, title: "gate killed: the bottle is cut off while it is down", expected: "fail-closed" as const };
  const restarted = { ...control, id: "10.gate-restarted", category: 10, title: "gate restarted by its supervisor: requests work again" };
  const supPid = readPid(paths.supervisorPid(stateDir));
  const gatePid = readPid(paths.gatePid(stateDir));
  if (supPid === null || !ownedBy(supPid, stateDir)) return [fail(killed, "did not run: no supervisor of this bottle found"), fail(restarted, "did not run: see 10.gate-killed")];
  if (gatePid === null || !ownedBy(gatePid, stateDir)) return [fail(killed, "did not run: no gate of this bottle found"), fail(restarted, "did not run: see 10.gate-killed")];
  const logMark = supervisorLog(stateDir).length;

  let closed: AttackOutcome;
  process.kill(supPid, "SIGSTOP");
  try {
    process.kill(gatePid, "SIGKILL");
    if (!(await until(() => !isAlive(gatePid), 5000))) {
      closed = fail(killed, "did not run: the gate survived SIGKILL");
    } else {
      // Judged while the supervisor is still held: nothing could have
      // restarted the gate between the request and this check.
      const held = () => readPid(paths.gatePid(stateDir)) === gatePid && !isAlive(gatePid) && stopped(supPid);
      closed = await run(killed, false, (ev) => judgeGateDown(ev, held()));
    }
  } finally {
    process.kill(supPid, "SIGCONT");
  }

  // The door comes back: a new live gate in gate.pid, the supervisor says
  // so, and the same control request gets through (retried: the new gate
  // needs a moment to listen).
  const back = await until(() => {
    const now = readPid(paths.gatePid(stateDir));
    return now !== null && now !== gatePid && ownedBy(now, stateDir) && /gate restarted/.test(supervisorLog(stateDir).slice(logMark));
  }, 30_000);
  if (!back) return [closed, fail(restarted, "the supervisor did not restart the gate within 30 s", true)];
  return [closed, await controlAgain(restarted, run)];
}

// Behind the bridge door the bottle's way out also needs its bridge
// container: kill it (docker kill --signal KILL, what an OOM or a crash
// does) with the supervisor held, prove the bottle is cut off while it is
// down, then that the supervisor brings it back.
export async function bridgeFaultCases(stateDir: string, bridge: string, control: Attack, run: RunOne): Promise<AttackOutcome[]> {
  const killed = { ...control, id: "10.bridge-killed", category: 10, title: "bridge container killed: the bottle is cut off while it is down", expected: "fail-closed" as const };
  const restarted = { ...control, id: "10.bridge-restarted", category: 10, title: "bridge container brought back by the supervisor: requests work again" };
  const supPid = readPid(paths.supervisorPid(stateDir));
  if (supPid === null || !ownedBy(supPid, stateDir)) return [fail(killed, "did not run: no supervisor of this bottle found"), fail(restarted, "did not run: see 10.bridge-killed")];
  const state = () => {
    const r = Bun.spawnSync(["docker", "container", "inspect", "--format", "{{.State.Status}}", bridge], { stdout: "pipe", stderr: "pipe" });
    return r.exitCode === 0 ? r.stdout.toString().trim() : "gone";
  };
  if (state() !== "running") return [fail(killed, `did not run: the bridge container ${bridge} is not running`), fail(restarted, "did not run: see 10.bridge-killed")];
  const logMark = supervisorLog(stateDir).length;

  let closed: AttackOutcome;
  process.kill(supPid, "SIGSTOP");
  try {
    const k = Bun.spawnSync(["docker", "kill", "--signal", "KILL", bridge], { stdout: "pipe", stderr: "pipe" });
    if (k.exitCode !== 0 || !(await until(() => state() !== "running", 5000))) {
      closed = fail(killed, `did not run: docker kill of ${bridge} failed`);
    } else {
      const held = () => state() !== "running" && stopped(supPid);
      closed = await run(killed, false, (ev) => judgeGateDown(ev, held(), "bridge"));
    }
  } finally {
    process.kill(supPid, "SIGCONT");
  }
  const back = await until(() => state() === "running" && /bridge restarted/.test(supervisorLog(stateDir).slice(logMark)), 30_000);
  if (!back) return [closed, fail(restarted, "the supervisor did not bring the bridge container back within 30 s", true)];
  return [closed, await controlAgain(restarted, run)];
}

// The control request once the door is back, retried for a few seconds: a
// new gate or bridge needs a moment to listen.
async function controlAgain(restarted: Attack, run: RunOne): Promise<AttackOutcome> {
  let again = await run(restarted, true);
  for (let i = 0; !again.pass && i < 10; i++) {
    await sleep(500);
    again = await run(restarted, true);
  }
  return again;
}

function supervisorLog(stateDir: string): string {
  try {
    return readFileSync(paths.supervisorLog(stateDir), "utf8");
  } catch {
    return "";
  }
}
