import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnGate, stopGate } from "../../../src/supervise/gate.ts";
import { probeGate, waitForGate } from "../../../src/supervise/probe.ts";
import { watchGate, type GateEvent } from "../../../src/supervise/watcher.ts";
import { paths } from "../../../src/state/paths.ts";
import { isAlive, readPid } from "../../../src/state/process.ts";
import { markStopping } from "../../../src/state/dirs.ts";

const FAKE = join(import.meta.dir, "fixtures", "fake-gate.ts");
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), "cb-sup-"));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
const cmd = (dir: string) => [process.execPath, FAKE, "gate", "--state", dir];
const secrets = { credentials: { TOKEN: "real-token-value-123" }, secrets: [{ name: "S", value: "s3cr3t-value" }] };

test("spawnGate starts a detached gate that answers, stopGate stops it and removes the socket", async () => {
  const dir = stateDir();
  const g = await spawnGate({ stateDir: dir, secrets, command: cmd(dir) });
  cleanups.push(() => stopGate(dir));
  expect(await waitForGate(paths.gateSocket(dir), { timeoutMs: 10_000 })).toBe(true);
  expect(readPid(paths.gatePid(dir))).toBe(g.pid);
  await stopGate(dir);
  expect(isAlive(g.pid)).toBe(false);
  expect(existsSync(paths.gateSocket(dir))).toBe(false);
  expect(await probeGate(paths.gateSocket(dir), 300)).toBe(false);
  await stopGate(dir); // idempotent
});

test("waitForGate gives up within its bound when nothing listens", async () => {
  const dir = stateDir();
  const t0 = Date.now();
  expect(await waitForGate(paths.gateSocket(dir), { timeoutMs: 400 })).toBe(false);
  expect(Date.now() - t0).toBeLessThan(2000);
});

test("the watcher restarts a kill -9'd gate with the same secrets; requests fail meanwhile", async () => {
  const dir = stateDir();
  const g = await spawnGate({ stateDir: dir, secrets, command: cmd(dir) });
  cleanups.push(() => stopGate(dir));
  expect(await waitForGate(paths.gateSocket(dir))).toBe(true);
  const firstHash = readFileSync(join(dir, "fake-gate.stdin.sha256"), "utf8");
  // Kill it first, then watch: the gap between the two is the window in
  // which the bottle has no way out.
  process.kill(g.pid, "SIGKILL");
  for (let i = 0; i < 40 && isAlive(g.pid); i++) await Bun.sleep(10);
  // Fail closed: the dead gate's socket file is still there, and refuses.
  expect(existsSync(paths.gateSocket(dir))).toBe(true);
  expect(await probeGate(paths.gateSocket(dir), 300)).toBe(false);
  const events: GateEvent[] = [];
  const w = watchGate({ slug: "t-aaaaa", stateDir: dir, secrets, command: cmd(dir), intervalMs: 100, onEvent: (e) => events.push(e) });
  cleanups.push(() => w.stop());

  const t0 = Date.now();
  let back = false;
  while (Date.now() - t0 < 10_000) {
    if (await probeGate(paths.gateSocket(dir), 300)) {
      back = true;
      break;
    }
    await Bun.sleep(50);
  }
  expect(back).toBe(true);
  const newPid = readPid(paths.gatePid(dir))!;
  expect(newPid).not.toBe(g.pid);
  expect(isAlive(newPid)).toBe(true);
  expect(readFileSync(join(dir, "fake-gate.stdin.sha256"), "utf8")).toBe(firstHash);
  while (events.length === 0 && Date.now() - t0 < 10_000) await Bun.sleep(20);
  expect(events[0]?.kind).toBe("restarted");
  const audit = readFileSync(paths.audit(dir), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(audit.some((a) => a.event === "gate-restarted" && a.bottle === "t-aaaaa")).toBe(true);
});

test("the watcher does not resurrect a gate while the bottle is being stopped", async () => {
  const dir = stateDir();
  const g = await spawnGate({ stateDir: dir, secrets, command: cmd(dir) });
  cleanups.push(() => stopGate(dir));
  expect(await waitForGate(paths.gateSocket(dir))).toBe(true);
  const w = watchGate({ slug: "t-bbbbb", stateDir: dir, secrets, command: cmd(dir), intervalMs: 50 });
  cleanups.push(() => w.stop());
  markStopping(dir);
  await stopGate(dir);
  expect(isAlive(g.pid)).toBe(false);
  await w.checked();
  await w.checked();
  expect(readPid(paths.gatePid(dir))).toBeNull();
  expect(await probeGate(paths.gateSocket(dir), 200)).toBe(false);
});
