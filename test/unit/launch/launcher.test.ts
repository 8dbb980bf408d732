import { afterEach, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launch, STEPS } from "../../../src/launch/launcher.ts";
import { listStateDirs } from "../../../src/state/dirs.ts";
import { readMetadata } from "../../../src/state/metadata.ts";
import { paths } from "../../../src/state/paths.ts";
import { isAlive, readPid } from "../../../src/state/process.ts";
import { teardownResources } from "../../../src/launch/teardown.ts";
import { FAKE_ABOUT } from "./fixtures/fake-backend.ts";
import { probeGate } from "../../../src/supervise/probe.ts";
import { harness, COPIED, FAKE_GATE, PLANTED, REAL_TOKEN } from "./fixtures/harness.ts";
import { testPlan, testSpec } from "./fixtures/spec.ts";

const disposers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

function setup(opts: Parameters<typeof harness>[0] = {}) {
  const h = harness(opts);
  disposers.push(async () => {
    for (const { slug, stateDir } of listStateDirs(h.home)) await teardownResources(stateDir, slug, h.fake.backend);
    h.dispose();
  });
  return h;
}

function allFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => statSync(f).isFile());
}

test("exit 0: everything is torn down and the state dir deleted", async () => {
  const h = setup({ agentArgv: ["sh", "-c", "exit 0"] });
  const spec = testSpec();
  const code = await launch({ spec, plan: testPlan("tester-aaaaa", spec), detached: false, cwd: "/w" }, h.deps);
  expect(code).toBe(0);
  expect(existsSync(paths.stateDir(h.home, "tester-aaaaa"))).toBe(false);
  expect(h.fake.live.size).toBe(0);
  expect(h.fake.events).toEqual(["launch tester-aaaaa", "provision tester-aaaaa", "remove tester-aaaaa"]);
});

test("a home so deep that the gate socket cannot bind is refused before anything is created", async () => {
  const h = setup({ agentArgv: ["sh", "-c", "exit 0"] });
  h.deps.home = join(h.home, "x".repeat(120));
  const spec = testSpec();
  await expect(launch({ spec, plan: testPlan("tester-lllll", spec), detached: false, cwd: "/w" }, h.deps)).rejects.toThrow(
    /more than a unix socket allows \(103\); set CLAUDE_BOTTLE_HOME to a shorter folder/,
  );
  expect(existsSync(h.deps.home)).toBe(false);
  expect(h.fake.events).toEqual([]);
});

test("a missing skill or workspace is refused before any prompt or resource, on every backend", async () => {
  const h = setup({ agentArgv: ["sh", "-c", "exit 0"] });
  let asked = false;
  const resolveEnv = h.deps.resolveEnv;
  h.deps.resolveEnv = async (s) => {
    asked = true;
    return resolveEnv(s);
  };
  const skill = testSpec({ skills: ["no-such-skill"] });
  await expect(launch({ spec: skill, plan: testPlan("tester-sssss", skill), detached: false, cwd: "/w" }, h.deps)).rejects.toThrow(/skill no-such-skill not found/);
  const ws = testSpec({ workspace: { mode: "copy", path: join(h.home, "gone") } });
  await expect(launch({ spec: ws, plan: testPlan("tester-ttttt", ws), detached: false, cwd: "/w" }, h.deps)).rejects.toThrow(/workspace .*gone does not exist/);
  expect(asked).toBe(false);
  expect(h.fake.events).toEqual([]);
  expect(listStateDirs(h.home)).toEqual([]);
});

test("--verbose reaches the backend (the image build log is shown as it runs)", async () => {
  const h = setup({ agentArgv: ["sh", "-c", "exit 0"] });
  const spec = testSpec();
  expect(await launch({ spec, plan: testPlan("tester-vvvvv", spec), detached: false, cwd: "/w", verbose: true }, h.deps)).toBe(0);
  expect(await launch({ spec, plan: testPlan("tester-wwwww", spec), detached: false, cwd: "/w" }, h.deps)).toBe(0);
  expect(h.fake.contexts.map((c) => c.verbose)).toEqual([true, false]);
});

test("the image build is explained when the backend builds it, once per home; never when the image is reused", async () => {
  let builds = false;
  const h = setup({ agentArgv: ["sh", "-c", "exit 0"], buildsImage: () => builds });
  const run = async (slug: string) => {
    h.lines.length = 0;
    const spec = testSpec();
    expect(await launch({ spec, plan: testPlan(slug, spec), detached: false, cwd: "/w" }, h.deps)).toBe(0);
    return h.lines.filter((l) => l === FAKE_ABOUT.imageLine).length;
  };
  // A fresh home whose image is already there: the first run says nothing about building.
  expect(await run("tester-imga1")).toBe(0);
  builds = true;
  expect(await run("tester-imgb2")).toBe(1);
  // Explained once: a later build (new image version) only shows progress.
  expect(await run("tester-imgc3")).toBe(0);
});

// In a terminal, Ctrl-C reaches the agent as a key once it has taken the
// terminal (Claude Code then leaves with exit 0). An agent that dies of the
// SIGINT (exit 130) was stopped before it was ready: the user left, there is
// nothing to resume, and no resume hint may say otherwise.
test("in a terminal, an agent stopped by Ctrl-C before it was ready (exit 130): exit 130, nothing kept, no resume hint", async () => {
  const h = setup({ agentArgv: ["sh", "-c", "exit 130"] });
  h.deps.tty = true;
  const spec = testSpec();
  const code = await launch({ spec, plan: testPlan("tester-ccccc", spec), detached: false, cwd: "/w" }, h.deps);
  expect(code).toBe(130);
  expect(existsSync(paths.stateDir(h.home, "tester-ccccc"))).toBe(false);
  expect(h.fake.live.size).toBe(0);
  const said = h.lines.join("\n");
  expect(said).not.toContain("resume");
  expect(said).not.toContain("state kept");
  expect(said).toContain("interrupted");
});

test("non-zero exit: bottle and gate go, state stays with .preserve and a resume hint; no secret anywhere", async () => {
  let gatePid = 0;
  const h = setup({
    // The agent prints what it sees, so the test can check the bottle got
    // placeholders, not credentials.
    agentArgv: ["sh", "-c", 'printf "%s|%s|%s|%s" "$EXAMPLE_TOKEN" "$ASKED" "$LIT" "$HTTPS_PROXY" > "$OUT_FILE"; exit 3'],
    beforeStep: (name) => {
      if (name === "attach") gatePid = readPid(paths.gatePid(paths.stateDir(h.home, "tester-bbbbb")))!;
    },
  });
  const outFile = join(h.home, "agent-saw.txt");
  const spec = testSpec({ env: [...testSpec().env, { name: "OUT_FILE", kind: "literal", value: outFile }] });
  const code = await launch({ spec, plan: testPlan("tester-bbbbb", spec), detached: false, cwd: "/w" }, h.deps);
  expect(code).toBe(3);
  const dir = paths.stateDir(h.home, "tester-bbbbb");
  expect(existsSync(paths.preserve(dir))).toBe(true);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  const m = readMetadata(dir)!;
  expect(m).toMatchObject({ slug: "tester-bbbbb", agent: "tester", bottle: "default", backend: "docker", cwd: "/w", status: "exited", exit_code: 3 });
  expect(m.workspace.mode).toBe("none");
  expect(h.lines.join("\n")).toContain("claude-bottle resume tester-bbbbb");
  expect(h.fake.live.size).toBe(0);
  expect(gatePid).toBeGreaterThan(1);
  expect(isAlive(gatePid)).toBe(false);
  expect(existsSync(paths.gateSocket(dir))).toBe(false);
  expect(existsSync(paths.lock(dir))).toBe(false);

  const saw = readFileSync(outFile, "utf8").split("|");
  expect(saw[0]).not.toBe(REAL_TOKEN);
  expect(saw[0]!.startsWith("cbph-")).toBe(true);
  expect(saw[1]).toBe(PLANTED); // the bottle's own secret does reach the bottle
  expect(saw[2]).toBe("plain-literal");
  expect(saw[3]).toBe("http://127.0.0.1:3128");

  // The planted secrets are nowhere in the state dir or our output, and the
  // secret env names were never handed to the backend as argv env.
  const haystack = allFiles(dir).map((f) => readFileSync(f, "latin1")).join("\n") + h.lines.join("\n");
  for (const s of [PLANTED, REAL_TOKEN, COPIED]) expect(haystack.includes(s)).toBe(false);
  const policy = JSON.parse(readFileSync(paths.policy(dir), "utf8"));
  expect(Object.keys(policy.placeholders)).toEqual(["EXAMPLE_TOKEN"]);
});

for (const at of STEPS.filter((s) => s !== "env")) {
  test(`SIGINT before step '${at}' leaves nothing behind`, async () => {
    let gatePid: number | null = null;
    const h = setup({
      agentArgv: ["sleep", "30"],
      beforeStep: (name) => {
        gatePid ??= readPid(paths.gatePid(paths.stateDir(h.home, "tester-ccccc")));
        if (name === at) h.signals.emit("SIGINT");
      },
    });
    const spec = testSpec();
    const code = await launch({ spec, plan: testPlan("tester-ccccc", spec), detached: false, cwd: "/w" }, h.deps);
    expect(code).toBe(130);
    const dir = paths.stateDir(h.home, "tester-ccccc");
    expect(h.fake.live.size).toBe(0);
    if (gatePid !== null) expect(isAlive(gatePid)).toBe(false);
    if (at === "attach") {
      // The session had started: state is kept for resume, nothing runs.
      expect(existsSync(paths.preserve(dir))).toBe(true);
    } else {
      expect(existsSync(dir)).toBe(false);
    }
    expect(h.signals.listenerCount("SIGINT")).toBe(0);
  });
}

test("SIGTERM while the backend is creating the bottle: the step finishes, then everything is undone", async () => {
  let h: ReturnType<typeof setup>;
  h = setup({
    agentArgv: ["sleep", "30"],
    onLaunch: async () => {
      h.signals.emit("SIGTERM");
      await Bun.sleep(50);
    },
  });
  const spec = testSpec();
  const code = await launch({ spec, plan: testPlan("tester-ddddd", spec), detached: false, cwd: "/w" }, h.deps);
  expect(code).toBe(143);
  expect(h.fake.live.size).toBe(0);
  expect(listStateDirs(h.home)).toEqual([]);
});

test("SIGINT while the backend is creating the bottle, whose start then fails for it: exit 130, not the backend's error", async () => {
  // On a terminal Ctrl-C reaches the docker CLI as well, and the bottle it
  // was starting stops: the launch's failure is the signal's doing.
  // The gate's step is over by then (its supervisor runs): the bottle's
  // step is the only one left to fail.
  let h: ReturnType<typeof setup>;
  h = setup({
    agentArgv: ["sleep", "30"],
    failLaunch: true,
    onLaunch: async (slug) => {
      const dir = paths.stateDir(h.home, slug);
      for (let i = 0; i < 400 && readPid(paths.supervisorPid(dir)) === null; i++) await Bun.sleep(10);
      await Bun.sleep(100);
      h.signals.emit("SIGINT");
    },
  });
  const spec = testSpec();
  const code = await launch({ spec, plan: testPlan("tester-eeeee", spec), detached: true, cwd: "/w" }, h.deps);
  expect(code).toBe(130);
  expect(h.lines.join("\n")).not.toContain("launch failed");
  expect(h.fake.live.size).toBe(0);
  expect(listStateDirs(h.home)).toEqual([]);
});

// The gate starts side by side with the bottle: a hook that must see the
// gate running waits for its pidfile.
async function gatePidOf(home: string, slug: string): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const pid = readPid(paths.gatePid(paths.stateDir(home, slug)));
    if (pid !== null) return pid;
    await Bun.sleep(10);
  }
  throw new Error("the gate never started");
}

test("a failing backend launch rolls back the gate and the state dir", async () => {
  let gatePid: number | null = null;
  const h = setup({
    failLaunch: true,
    onLaunch: async () => {
      gatePid = await gatePidOf(h.home, "tester-eeeee");
    },
  });
  const spec = testSpec();
  await expect(launch({ spec, plan: testPlan("tester-eeeee", spec), detached: false, cwd: "/w" }, h.deps)).rejects.toThrow("fake backend");
  expect(gatePid).not.toBeNull();
  expect(isAlive(gatePid!)).toBe(false);
  expect(h.fake.live.size).toBe(0);
  expect(listStateDirs(h.home)).toEqual([]);
});

test("a failing provisioning removes the started bottle, the gate and the state dir", async () => {
  let gatePid: number | null = null;
  const h = setup({
    onProvision: async () => {
      gatePid = await gatePidOf(h.home, "tester-prvsn");
      throw new Error("fake provisioning failed");
    },
  });
  const spec = testSpec();
  await expect(launch({ spec, plan: testPlan("tester-prvsn", spec), detached: true, cwd: "/w" }, h.deps)).rejects.toThrow("fake provisioning failed");
  expect(h.fake.events).toEqual(["launch tester-prvsn", "provision tester-prvsn", "remove tester-prvsn"]);
  expect(gatePid).not.toBeNull();
  expect(isAlive(gatePid!)).toBe(false);
  expect(h.fake.live.size).toBe(0);
  expect(listStateDirs(h.home)).toEqual([]);
});

test("the bottle starts while the gate is still starting; up waits for both", async () => {
  let gateAnswered = null as boolean | null;
  const h = setup({
    agentArgv: ["sh", "-c", "exit 0"],
    onLaunch: async (slug) => {
      gateAnswered = await probeGate(paths.gateSocket(paths.stateDir(h.home, slug)), 200);
    },
  });
  // A gate that takes 600 ms to listen (the fake's delay, through env(1):
  // the gate gets an allowlisted environment).
  h.deps.gateCommand = (dir) => ["env", "FAKE_GATE_DELAY_MS=600", process.execPath, FAKE_GATE, "gate", "--state", dir];
  const spec = testSpec();
  const t0 = Date.now();
  expect(await launch({ spec, plan: testPlan("tester-prlll", spec), detached: true, cwd: "/w" }, h.deps)).toBe(0);
  expect(gateAnswered).toBe(false);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
  // Detached: up returned only once the gate answered and its supervisor ran.
  const dir = paths.stateDir(h.home, "tester-prlll");
  expect(await probeGate(paths.gateSocket(dir), 1000)).toBe(true);
  expect(isAlive(readPid(paths.supervisorPid(dir))!)).toBe(true);
  expect(h.fake.events).toEqual(["launch tester-prlll", "provision tester-prlll"]);
});

test("the backend prepares (the agent image) before the state dir exists, beside the first steps; the bottle waits for it", async () => {
  let stateAtPrepare: boolean | null = null;
  let prepareDone = 0;
  let launchedAt = 0;
  const h = setup({
    onPrepare: async () => {
      stateAtPrepare = existsSync(paths.stateDir(h.home, "tester-prepa"));
      await Bun.sleep(300);
      prepareDone = Date.now();
    },
    onLaunch: () => {
      launchedAt = Date.now();
    },
  });
  const spec = testSpec();
  expect(await launch({ spec, plan: testPlan("tester-prepa", spec), detached: false, cwd: "/w" }, h.deps)).toBe(0);
  expect(h.fake.prepared).toEqual(["tester"]);
  expect(stateAtPrepare as boolean | null).toBe(false);
  expect(launchedAt).toBeGreaterThanOrEqual(prepareDone);
});

test("a failing prepare fails the launch and leaves nothing", async () => {
  const h = setup({
    onPrepare: async () => {
      throw new Error("fake prepare: no base image");
    },
  });
  const spec = testSpec();
  await expect(launch({ spec, plan: testPlan("tester-prepb", spec), detached: true, cwd: "/w" }, h.deps)).rejects.toThrow("fake prepare: no base image");
  expect(h.fake.events).toEqual([]);
  expect(listStateDirs(h.home)).toEqual([]);
});

test("a gate that cannot start: the bottle started meanwhile is removed too, and nothing is left", async () => {
  const h = setup({ agentArgv: ["sh", "-c", "exit 0"] });
  h.deps.gateCommand = (dir) => ["env", "FAKE_GATE_DIE=1", process.execPath, FAKE_GATE, "gate", "--state", dir];
  const spec = testSpec();
  await expect(launch({ spec, plan: testPlan("tester-gdied", spec), detached: true, cwd: "/w" }, h.deps)).rejects.toThrow(/the gate did not start/);
  expect(h.fake.events).toEqual(["launch tester-gdied", "provision tester-gdied", "remove tester-gdied"]);
  expect(h.fake.live.size).toBe(0);
  expect(listStateDirs(h.home)).toEqual([]);
});

test("an env value that cannot be resolved is an error, and nothing is created", async () => {
  const h = setup();
  h.deps.resolveEnv = async () => {
    throw new (await import("../../../src/errors.ts")).UserError("env ASKED: no value was entered");
  };
  const spec = testSpec();
  await expect(launch({ spec, plan: testPlan("tester-fffff", spec), detached: false, cwd: "/w" }, h.deps)).rejects.toThrow(/ASKED/);
  expect(listStateDirs(h.home)).toEqual([]);
});

test("two launches with the same slug at once never collide", async () => {
  const h = setup({ agentArgv: ["sh", "-c", "sleep 0.3; exit 5"] });
  const spec = testSpec();
  const [a, b] = await Promise.all([
    launch({ spec, plan: testPlan("tester-ggggg", spec), detached: false, cwd: "/w" }, h.deps),
    launch({ spec, plan: testPlan("tester-ggggg", spec), detached: false, cwd: "/w" }, h.deps),
  ]);
  expect([a, b]).toEqual([5, 5]);
  const slugs = listStateDirs(h.home).map((s) => s.slug);
  expect(slugs).toEqual(["tester-ggggg", "tester-re001"]);
  expect(h.fake.events.filter((e) => e.startsWith("launch")).sort()).toEqual(["launch tester-ggggg", "launch tester-re001"]);
});

test("detached: bottle, gate and supervisor keep running; teardown removes them", async () => {
  const h = setup();
  const spec = testSpec();
  const code = await launch({ spec, plan: testPlan("tester-hhhhh", spec), detached: true, cwd: "/w" }, h.deps);
  expect(code).toBe(0);
  const dir = paths.stateDir(h.home, "tester-hhhhh");
  expect(h.fake.live.has("tester-hhhhh")).toBe(true);
  const gate = readPid(paths.gatePid(dir))!;
  const sup = readPid(paths.supervisorPid(dir))!;
  expect(isAlive(gate)).toBe(true);
  expect(isAlive(sup)).toBe(true);
  expect(readMetadata(dir)).toMatchObject({ status: "running", detached: true, owner_pid: sup });
  expect(h.lines).toContain("tester-hhhhh");

  // The supervisor restarts a killed gate.
  process.kill(gate, "SIGKILL");
  let restarted: number | null = null;
  for (let i = 0; i < 200; i++) {
    const p = readPid(paths.gatePid(dir));
    if (p !== null && p !== gate && isAlive(p)) {
      restarted = p;
      break;
    }
    await Bun.sleep(50);
  }
  expect(restarted).not.toBeNull();

  await teardownResources(dir, "tester-hhhhh", h.fake.backend);
  expect(isAlive(restarted!)).toBe(false);
  expect(isAlive(sup)).toBe(false);
  expect(h.fake.live.size).toBe(0);
});

test("resume relaunches a preserved session with the same slug, CA and placeholders; exit 0 then removes it", async () => {
  const h = setup({ agentArgv: ["sh", "-c", 'printf "%s" "$EXAMPLE_TOKEN" > "$OUT_FILE"; exit 4'] });
  const outFile = join(h.home, "token-seen.txt");
  const spec = testSpec({ env: [...testSpec().env, { name: "OUT_FILE", kind: "literal", value: outFile }] });
  let n = 0;
  h.deps.makePlaceholder = () => `cbph-${++n}`; // a fresh one each time it is asked
  expect(await launch({ spec, plan: testPlan("tester-rrrrr", spec), detached: false, cwd: "/w" }, h.deps)).toBe(4);
  const dir = paths.stateDir(h.home, "tester-rrrrr");
  const firstToken = readFileSync(outFile, "utf8");
  const ca = readFileSync(join(dir, "ca", "ca.crt"), "utf8");

  const { loadResumable } = await import("../../../src/launch/resume.ts");
  const r = loadResumable(h.home, "tester-rrrrr");
  expect(r.plan.slug).toBe("tester-rrrrr");
  // Fails again: still preserved, same placeholder as before.
  expect(await launch({ spec: r.spec, plan: r.plan, detached: false, cwd: r.meta.cwd, resume: true }, h.deps)).toBe(4);
  expect(readFileSync(outFile, "utf8")).toBe(firstToken);
  expect(existsSync(paths.preserve(dir))).toBe(true);
  expect(readFileSync(join(dir, "ca", "ca.crt"), "utf8")).toBe(ca);

  h.deps.hostEnv.CLAUDE_BOTTLE_AGENT_ARGV = JSON.stringify(["sh", "-c", "exit 0"]);
  expect(await launch({ spec: r.spec, plan: r.plan, detached: false, cwd: r.meta.cwd, resume: true }, h.deps)).toBe(0);
  expect(existsSync(dir)).toBe(false);
  expect(() => loadResumable(h.home, "tester-rrrrr")).toThrow(/no state/);
});

test("in a terminal, Ctrl-C before the agent was ready during a resume keeps what was kept before", async () => {
  const h = setup({ agentArgv: ["sh", "-c", "exit 6"] });
  h.deps.tty = true;
  const spec = testSpec();
  expect(await launch({ spec, plan: testPlan("tester-kkkkk", spec), detached: false, cwd: "/w" }, h.deps)).toBe(6);
  const dir = paths.stateDir(h.home, "tester-kkkkk");
  const { loadResumable } = await import("../../../src/launch/resume.ts");
  const r = loadResumable(h.home, "tester-kkkkk");
  h.deps.hostEnv.CLAUDE_BOTTLE_AGENT_ARGV = JSON.stringify(["sh", "-c", "exit 130"]);
  expect(await launch({ spec: r.spec, plan: r.plan, detached: false, cwd: r.meta.cwd, resume: true }, h.deps)).toBe(130);
  expect(existsSync(paths.preserve(dir))).toBe(true);
  expect(h.lines.join("\n")).toContain("claude-bottle resume tester-kkkkk");
});

test("resume keeps live policy changes (allow/deny, approved requests): policy.json is the truth", async () => {
  const h = setup({ agentArgv: ["sh", "-c", "exit 5"] });
  const spec = testSpec();
  expect(await launch({ spec, plan: testPlan("tester-ppppp", spec), detached: false, cwd: "/w" }, h.deps)).toBe(5);
  const dir = paths.stateDir(h.home, "tester-ppppp");
  // What `claude-bottle allow` (or an approval) leaves behind: an edited policy.json.
  const edited = JSON.parse(readFileSync(paths.policy(dir), "utf8"));
  edited.routes = [...edited.routes, { host: "added.example", tls: "terminate", dlp: "on", allow_private: false }];
  writeFileSync(paths.policy(dir), JSON.stringify(edited));

  const { loadResumable } = await import("../../../src/launch/resume.ts");
  const r = loadResumable(h.home, "tester-ppppp");
  expect(await launch({ spec: r.spec, plan: r.plan, detached: false, cwd: r.meta.cwd, resume: true }, h.deps)).toBe(5);
  const after = JSON.parse(readFileSync(paths.policy(dir), "utf8"));
  expect(after.routes.map((x: { host: string }) => x.host)).toContain("added.example");
  expect(after.placeholders).toEqual(edited.placeholders);
});

test("resume of a live (not preserved) bottle is refused", async () => {
  const h = setup();
  const spec = testSpec();
  expect(await launch({ spec, plan: testPlan("tester-sssss", spec), detached: true, cwd: "/w" }, h.deps)).toBe(0);
  const { loadResumable } = await import("../../../src/launch/resume.ts");
  expect(() => loadResumable(h.home, "tester-sssss")).toThrow(/nothing to resume/);
});
