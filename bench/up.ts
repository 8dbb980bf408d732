#!/usr/bin/env bun
// Starting a bottle against its floor: the same agent image started with
// the docker CLI alone.
//   ours:   `claude-bottle up -d --yes` until `claude-bottle exec <slug> -- true`
//           succeeds (manifest, plan, CA, policy, gate, container, provisioning,
//           supervisor; then a second CLI run for the exec);
//   docker: `docker run -d <the argv our docker backend builds>` then
//           `docker exec <name> true` (the same mounts, the home's tar
//           included, and the same first command: the container is the
//           same, only who starts it differs);
// and taking it down: `claude-bottle down <slug>` against `docker rm -f`.
// Interleaved (the order alternates every round), 7 rounds (3 with --quick;
// --runs N, at least 5 without --quick); the ratios are the medians of the
// rounds' ratios: this machine is shared, and one slow round must not
// decide. Goal: ratio_vs_docker_run <= 1.5.
//
//   bun run bench:up [-- --quick] [-- --runs N]
//
// Runs against the local engine with the offline test base image
// (CLAUDE_BOTTLE_BASE_IMAGE, default claude-bottle-test/base:bookworm), no
// Claude Code in the image, a throwaway CLAUDE_BOTTLE_HOME and an empty
// working directory (workspace: none). The agent image is built once, before
// anything is timed. Removes only the containers and directories it made.
// Beside wall-clock, the CPU of the processes each side starts (ours: up,
// exec, the docker CLI runs they wait for, and the gate's and supervisor's
// start; docker's: its two CLI runs), which the machine's load does not
// change much, and the load average with every round. The last line is
// machine-readable:
//   up: ratio_vs_docker_run=<x> down_ratio=<y> cpu_ms=<ours>/<docker> load=<1-min>
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bottleRunInput } from "../src/backends/docker/index.ts";
import { runArgv } from "../src/backends/docker/args.ts";
import { LABEL_IMAGE_HASH } from "../src/backends/docker/constants.ts";
import { imageBundle, writeTrust } from "../src/backends/docker/trust.ts";
import { ensureCa } from "../src/gate/tls/ca.ts";
import { gateInputs } from "../src/launch/inputs.ts";
import { preparePlan } from "../src/plan/prepare.ts";
import { stageHomeTar } from "../src/provision/provision.ts";
import { bin, ensureDist, machineLine, median } from "./lib/dist.ts";

const quick = process.argv.includes("--quick");
const runsArg = process.argv.indexOf("--runs");
const runs = Math.max(quick ? 3 : 5, Number(runsArg >= 0 ? process.argv[runsArg + 1] : quick ? 3 : 7) || 0);
const BASE = process.env.CLAUDE_BOTTLE_BASE_IMAGE || "claude-bottle-test/base:bookworm";
const GOAL = 1.5;

ensureDist();

const home = mkdtempSync(join(tmpdir(), "cb-bench-up-"));
const work = mkdtempSync(join(tmpdir(), "cb-bench-work-"));
const baseDir = mkdtempSync(join(tmpdir(), "cb-bench-docker-"));
const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CLAUDE_BOTTLE_")) env[k] = v;
Object.assign(env, {
  CLAUDE_BOTTLE_HOME: home,
  CLAUDE_BOTTLE_BACKEND: "docker",
  CLAUDE_BOTTLE_BASE_IMAGE: BASE,
  CLAUDE_BOTTLE_AGENT_PACKAGE: "none",
});

const ourSlugs = new Set<string>();
const dockerNames = new Set<string>();

// ms: wall-clock; cpu: user+system ms of the process and the children it
// waited for (the docker CLI runs), not of the engine.
function sh(argv: string[], opts: { cwd?: string } = {}): { code: number; out: string; err: string; ms: number; cpu: number } {
  const t0 = performance.now();
  const r = Bun.spawnSync(argv, { cwd: opts.cwd ?? work, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - t0;
  const cpu = Number(r.resourceUsage.cpuTime.user + r.resourceUsage.cpuTime.system) / 1000;
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString(), ms, cpu };
}

// CPU ms a live process has used so far (its threads included): the gate
// and its supervisor, which `up` starts detached and does not wait for.
function cpuOfPid(pidFile: string): number {
  try {
    const pid = readFileSync(pidFile, "utf8").trim();
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
  } catch {
    return NaN;
  }
}

const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

function must(r: ReturnType<typeof sh>, what: string): ReturnType<typeof sh> {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${(r.err || r.out).trim().split("\n").slice(-3).join(" | ")}`);
  return r;
}

function cleanup(): void {
  for (const slug of ourSlugs) sh([bin, "down", slug]);
  for (const name of dockerNames) Bun.spawnSync(["docker", "rm", "-f", "-v", name], { stdout: "ignore", stderr: "ignore" });
  for (const d of [home, work, baseDir]) rmSync(d, { recursive: true, force: true });
}
process.on("SIGINT", () => {
  cleanup();
  process.exit(130);
});

// ---------------------------------------------------------------- one round

function ourUp(): { ms: number; cpu: number; slug: string } {
  const t0 = performance.now();
  const up = must(sh([bin, "up", "-d", "--yes"]), "claude-bottle up -d --yes");
  const slug = up.out.trim().split("\n").at(-1)!;
  ourSlugs.add(slug);
  const ex = must(sh([bin, "exec", slug, "--", "true"]), `claude-bottle exec ${slug} -- true`);
  const ms = performance.now() - t0;
  // Our whole cost: both CLI runs (with the docker CLI runs they waited
  // for), the gate's start and its supervisor's.
  const state = join(home, "state", slug);
  const cpu = up.cpu + ex.cpu + cpuOfPid(join(state, "gate.pid")) + cpuOfPid(join(state, "supervisor.pid"));
  return { ms, cpu, slug };
}

function ourDown(slug: string): number {
  const r = must(sh([bin, "down", slug]), `claude-bottle down ${slug}`);
  ourSlugs.delete(slug);
  return r.ms;
}

let dockerArgv: (name: string) => string[];

function dockerUp(i: number): { ms: number; cpu: number; name: string } {
  const name = `cb-bench-${process.pid}-${i}`;
  dockerNames.add(name);
  const t0 = performance.now();
  const run = must(sh(["docker", ...dockerArgv(name)]), "docker run");
  const ex = must(sh(["docker", "exec", name, "true"]), "docker exec");
  return { ms: performance.now() - t0, cpu: run.cpu + ex.cpu, name };
}

function dockerDown(name: string): number {
  const r = must(sh(["docker", "rm", "-f", name]), "docker rm -f");
  dockerNames.delete(name);
  return r.ms;
}

// --------------------------------------------------------------------- main

try {
  console.log(`machine: ${machineLine()}; load ${load()}`);
  console.log(`docker: ${sh(["docker", "version", "--format", "{{.Server.Version}}"]).out.trim()}; base image ${BASE}; runs ${runs}`);
  must(sh(["docker", "image", "inspect", "--format", "{{.Id}}", BASE]), `the base image ${BASE} (build it with scripts/ci/build-base-image.sh)`);

  // Warm-up, not timed: builds (or finds) the agent image, and fills every
  // cache a second `up` would find.
  const warm = ourUp();
  const image = must(sh(["docker", "container", "inspect", "--format", "{{.Config.Image}}", `claude-bottle-${warm.slug}`]), "inspect the warm-up bottle").out.trim();
  ourDown(warm.slug);

  // The baseline's argv: our docker backend's own builder, with the spec `up`
  // resolves in this directory and the env the launcher gives the bottle.
  const { spec } = preparePlan({ agent: "default", dryRun: true, backendFlag: "docker", mount: false, cwd: work, env });
  const stateDir = join(baseDir, "state");
  mkdirSync(join(stateDir, "sock"), { recursive: true });
  // Its trust files too (mounted like ours): the image's bundle plus a CA.
  const hash = must(sh(["docker", "image", "inspect", "--format", `{{index .Config.Labels "${LABEL_IMAGE_HASH}"}}`, image]), "inspect the agent image").out.trim();
  const ca = await ensureCa(join(stateDir, "ca"), "bench");
  const bundle = await imageBundle({ bin: "docker", env: () => env }, home, { tag: image, hash });
  if (bundle === null) throw new Error(`could not read the CA bundle of ${image}`);
  writeTrust(stateDir, bundle, ca.certPem);
  // And its home, unpacked as it starts, like ours (the same tar).
  const homeTar = await stageHomeTar({ spec, stateDir, hostEnv: env, progress: () => {} });
  const agentEnv = gateInputs({ slug: "bench-aaaaa", spec, resolved: { values: {} }, hostEnv: env, makePlaceholder: () => "cbph-bench" }).agentEnv;
  dockerArgv = (name) => {
    const argv = runArgv({ ...bottleRunInput({ spec, slug: "bench-aaaaa", stateDir, image, env: { plain: agentEnv, secretNames: [] }, homeTar }), name });
    return argv;
  };
  console.log(`baseline: docker ${dockerArgv("<name>").join(" ")}`);
  const d0 = dockerUp(-1);
  dockerDown(d0.name);

  const ours: number[] = [];
  const oursCpu: number[] = [];
  const theirsCpu: number[] = [];
  const theirs: number[] = [];
  const oursDown: number[] = [];
  const theirsDown: number[] = [];
  for (let i = 0; i < runs; i++) {
    const oursFirst = i % 2 === 0;
    let o: ReturnType<typeof ourUp>;
    let t: ReturnType<typeof dockerUp>;
    if (oursFirst) {
      o = ourUp();
      t = dockerUp(i);
    } else {
      t = dockerUp(i);
      o = ourUp();
    }
    let od: number;
    let td: number;
    if (oursFirst) {
      od = ourDown(o.slug);
      td = dockerDown(t.name);
    } else {
      td = dockerDown(t.name);
      od = ourDown(o.slug);
    }
    ours.push(o.ms);
    oursCpu.push(o.cpu);
    theirsCpu.push(t.cpu);
    theirs.push(t.ms);
    oursDown.push(od);
    theirsDown.push(td);
    console.log(
      `round ${i + 1}: up+exec ours ${o.ms.toFixed(0)} ms (cpu ${o.cpu.toFixed(0)}), docker ${t.ms.toFixed(0)} ms (cpu ${t.cpu.toFixed(0)}) | down ours ${od.toFixed(0)} ms, docker rm -f ${td.toFixed(0)} ms | load ${load()}`,
    );
  }
  const mu = median(ours);
  const md = median(theirs);
  const mdo = median(oursDown);
  const mdd = median(theirsDown);
  const f = (x: number) => x.toFixed(0).padStart(6);
  console.log(`up+exec  ours ${f(mu)} ms   docker run+exec ${f(md)} ms   (medians of ${runs})`);
  console.log(`down     ours ${f(mdo)} ms   docker rm -f    ${f(mdd)} ms`);
  // The ratios are the medians of each round's ours/docker: the two runs of
  // a round are back to back, so they share the machine's load of the
  // moment, which on a shared machine moves more than either of them.
  const ratio = median(ours.map((o, i) => o / theirs[i]!));
  const downRatio = median(oursDown.map((o, i) => o / theirsDown[i]!));
  console.log(`ratio of medians: up ${(mu / md).toFixed(2)}, down ${(mdo / mdd).toFixed(2)}; median of the rounds' ratios: up ${ratio.toFixed(2)}, down ${downRatio.toFixed(2)}`);
  console.log(`goal ratio_vs_docker_run <= ${GOAL}: ${ratio <= GOAL ? "met" : "NOT met"}`);
  // CPU of the processes each side starts (not the engine's, which does the
  // same work for both): what is ours, whatever the machine's load.
  const mcu = median(oursCpu);
  const mcd = median(theirsCpu);
  console.log(`cpu      ours ${f(mcu)} ms   docker CLI      ${f(mcd)} ms   (medians; ours: up, exec and the docker CLI runs they wait for, the gate's and the supervisor's start)`);
  console.log(`up: ratio_vs_docker_run=${ratio.toFixed(2)} down_ratio=${downRatio.toFixed(2)} cpu_ms=${mcu.toFixed(0)}/${mcd.toFixed(0)} load=${load().split(" ")[0]}`);
} finally {
  cleanup();
}
