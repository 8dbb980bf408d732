import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Backends } from "../../../src/launch/backends.ts";
import { cleanupCommand } from "../../../src/launch/cleanup.ts";
import { downCommand } from "../../../src/launch/down.ts";
import { listRows } from "../../../src/launch/ls.ts";
import { launch } from "../../../src/launch/launcher.ts";
import { teardownResources } from "../../../src/launch/teardown.ts";
import { listStateDirs } from "../../../src/state/dirs.ts";
import { paths } from "../../../src/state/paths.ts";
import { isAlive, readPid } from "../../../src/state/process.ts";
import { FAKE_GATE, harness } from "./fixtures/harness.ts";
import { testPlan, testSpec } from "./fixtures/spec.ts";

const disposers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

function setup() {
  const h = harness();
  const one = async () => [{ name: "docker" as const, backend: h.fake.backend }];
  const backends: Backends = { get: async () => h.fake.backend, usable: one, installed: one };
  const errs: string[] = [];
  disposers.push(async () => {
    for (const { slug, stateDir } of listStateDirs(h.home)) await teardownResources(stateDir, slug, h.fake.backend);
    h.dispose();
  });
  return { h, backends, errs, err: (l: string) => errs.push(l) };
}

async function upDetached(h: ReturnType<typeof harness>, slug: string) {
  const spec = testSpec();
  expect(await launch({ spec, plan: testPlan(slug, spec), detached: true, cwd: "/w" }, h.deps)).toBe(0);
  const dir = paths.stateDir(h.home, slug);
  return { dir, gate: readPid(paths.gatePid(dir))!, sup: readPid(paths.supervisorPid(dir))! };
}

test("ls shows a running detached bottle with its audit counts", async () => {
  const { h, backends } = setup();
  const { dir } = await upDetached(h, "tester-aaaaa");
  writeFileSync(
    paths.audit(dir),
    [{ decision: "allow" }, { decision: "deny" }, { decision: "allow" }, { event: "gate-restarted" }].map((l) => JSON.stringify(l)).join("\n") + "\n",
  );
  const rows = await listRows(h.home, backends);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ slug: "tester-aaaaa", agent: "tester", backend: "docker", status: "running", allowed: 2, blocked: 1 });
});

test("ls asks each installed backend for its list once, and probes nothing", async () => {
  const { h } = setup();
  await upDetached(h, "tester-lsone");
  let lists = 0;
  const counted = { ...h.fake.backend, list: async () => (lists++, h.fake.backend.list()) };
  const backends: Backends = {
    get: async () => counted,
    usable: async () => {
      throw new Error("ls must not probe the backends");
    },
    installed: async () => [{ name: "docker", backend: counted }],
  };
  expect((await listRows(h.home, backends)).map((r) => r.status)).toEqual(["running"]);
  expect(lists).toBe(1);
  // An engine that does not answer: the backends' view is unknown, so the
  // row shows what the state says instead of calling the bottle gone.
  const down: Backends = { ...backends, installed: async () => [{ name: "docker", backend: { ...counted, list: async () => Promise.reject(new Error("daemon down")) } }] };
  expect((await listRows(h.home, down)).map((r) => r.status)).toEqual(["running"]);
});

test("down removes bottle, supervisor, gate, socket and state; a second down is harmless", async () => {
  const { h, backends, errs, err } = setup();
  const { dir, gate, sup } = await upDetached(h, "tester-bbbbb");
  expect(await downCommand(h.home, { slug: "tester-bbbbb" }, backends, err)).toBe(0);
  expect(h.fake.live.size).toBe(0);
  expect(isAlive(gate)).toBe(false);
  expect(isAlive(sup)).toBe(false);
  expect(existsSync(dir)).toBe(false);
  expect(await downCommand(h.home, { slug: "tester-bbbbb" }, backends, err)).toBe(0);
  expect(errs[0]).toContain("stopped and removed");
  expect(errs[1]).toContain("nothing to stop");
});

test("down --all stops every bottle", async () => {
  const { h, backends, err } = setup();
  await upDetached(h, "tester-ccccc");
  await upDetached(h, "tester-ddddd");
  await downCommand(h.home, { all: true }, backends, err);
  expect(h.fake.live.size).toBe(0);
  expect(listStateDirs(h.home)).toEqual([]);
});

test("cleanup after kill -9 of supervisor and gate removes the leftovers, keeps the live bottle, and is idempotent", async () => {
  const { h, backends, err } = setup();
  const dead = await upDetached(h, "tester-eeeee");
  const live = await upDetached(h, "tester-fffff");
  process.kill(dead.sup, "SIGKILL");
  process.kill(dead.gate, "SIGKILL");
  for (let i = 0; i < 100 && (isAlive(dead.sup) || isAlive(dead.gate)); i++) await Bun.sleep(10);
  // A half-created leftover too: a state dir with no metadata.
  mkdirSync(paths.stateDir(h.home, "tester-ggggg"), { recursive: true });
  let out = "";
  const io = { out: (s: string) => (out += s), err, confirm: async () => false };

  // Declined: nothing removed.
  expect(await cleanupCommand(h.home, { yes: false, dryRun: false }, backends, io)).toBe(0);
  expect(h.fake.live.has("tester-eeeee")).toBe(true);
  expect(out).toContain("claude-bottle-tester-eeeee");
  expect(out).toContain("state of tester-ggggg");
  expect(out).toContain("keep      tester-fffff: running");

  expect(await cleanupCommand(h.home, { yes: true, dryRun: false }, backends, io)).toBe(0);
  expect(h.fake.live.has("tester-eeeee")).toBe(false);
  expect(existsSync(dead.dir)).toBe(false);
  expect(existsSync(paths.stateDir(h.home, "tester-ggggg"))).toBe(false);
  expect(h.fake.live.has("tester-fffff")).toBe(true);
  expect(isAlive(live.gate)).toBe(true);

  out = "";
  expect(await cleanupCommand(h.home, { yes: true, dryRun: false }, backends, io)).toBe(0);
  expect(out).toContain("nothing to clean up");
});

// A foreground `up` (its agent: sleep 30) from a second harness that shares
// the first one's fake backend and home, so `down` sees what it made.
function foregroundUp(h: ReturnType<typeof harness>, slug: string, gateCommand?: (dir: string) => string[]) {
  const spec = testSpec();
  const h2 = harness({ agentArgv: ["sleep", "30"] });
  disposers.push(() => h2.dispose());
  h2.deps.backend = h.fake.backend;
  h2.deps.home = h.home;
  if (gateCommand) h2.deps.gateCommand = gateCommand;
  const running = launch({ spec, plan: testPlan(slug, spec), detached: false, cwd: "/w" }, h2.deps);
  return { running, lines: h2.lines, dir: paths.stateDir(h.home, slug) };
}

test("down while a foreground up runs: the session ends, nothing is kept or left running", async () => {
  const { h, backends, err } = setup();
  const { running, lines, dir } = foregroundUp(h, "tester-hhhhh");
  // Runs: the agent's process is up, which is after the gate answered. (A
  // bottle that merely exists is not enough: under load the gate may still
  // be starting, and that is the next test's case.)
  for (let i = 0; i < 500 && !(h.fake.live.get("tester-hhhhh")?.running.size ?? 0); i++) await Bun.sleep(20);
  expect(h.fake.live.get("tester-hhhhh")?.running.size).toBe(1);
  const gate = readPid(paths.gatePid(dir))!;
  expect(isAlive(gate)).toBe(true);
  await downCommand(h.home, { slug: "tester-hhhhh" }, backends, err);
  const code = await running;
  expect(code).not.toBe(0);
  expect(existsSync(dir)).toBe(false);
  expect(isAlive(gate)).toBe(false);
  expect(h.fake.live.size).toBe(0);
  expect(lines.join("\n")).toContain("stopped from outside");
});

test("down while a foreground up is still starting: up says it was stopped, nothing is kept or left running", async () => {
  const { h, backends, err } = setup();
  // A gate slow to listen (a starved CPU does this to a real one): `down`
  // comes while `up` still waits for it.
  const slow = (dir: string) => ["env", "FAKE_GATE_DELAY_MS=5000", process.execPath, FAKE_GATE, "gate", "--state", dir];
  const { running, lines, dir } = foregroundUp(h, "tester-iiiii", slow);
  for (let i = 0; i < 500 && !h.fake.live.has("tester-iiiii"); i++) await Bun.sleep(20);
  const gate = readPid(paths.gatePid(dir))!;
  expect(isAlive(gate)).toBe(true);
  await downCommand(h.home, { slug: "tester-iiiii" }, backends, err);
  expect(await running).toBe(1);
  expect(lines.join("\n")).toContain("tester-iiiii was stopped from outside while it was starting");
  expect(lines.join("\n")).not.toContain("the gate did not start");
  expect(existsSync(dir)).toBe(false);
  expect(isAlive(gate)).toBe(false);
  expect(h.fake.live.size).toBe(0);
});

test("a path-like slug is refused before anything is touched", async () => {
  const { h, backends, err } = setup();
  writeFileSync(join(h.home, "keep-me"), "x");
  for (const bad of ["..", "../..", "/etc", "a-abcde/../..", "A-ABCDE"]) {
    await expect(downCommand(h.home, { slug: bad }, backends, err)).rejects.toThrow(/not a bottle slug/);
  }
  expect(existsSync(join(h.home, "keep-me"))).toBe(true);
  const { loadResumable } = await import("../../../src/launch/resume.ts");
  expect(() => loadResumable(h.home, "../x")).toThrow(/not a bottle slug/);
});
