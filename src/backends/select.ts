import { accessSync, constants, existsSync } from "node:fs";
import { UserError } from "../errors.ts";
import { cliSocket, engineInfoOnSocket } from "./docker/api.ts";
import { parseEngineInfo, type EngineInfo } from "./docker/engine.ts";
import { run, runAsync, type RunResult } from "./probe-run.ts";
import { planDoor } from "./door-probe.ts";
import type { DoorPlan } from "../plan/types.ts";
import { doorLines } from "../plan/text.ts";
import { checkPreflight, type PreflightFacts } from "./smolmachines/preflight.ts";
import { BACKEND_NAMES, type BackendName } from "./names.ts";
import type { PreflightProblem } from "./types.ts";

// Backend choice: --backend > CLAUDE_BOTTLE_BACKEND > auto (a usable smolvm
// first: a microVM is the stronger wall; then a reachable docker daemon).
// `chooseBackend` is pure; the probes below are the edge that runs commands.

export interface BackendProbe {
  usable: boolean;
  problems: PreflightProblem[];
  // docker: what the engine said about itself (the door follows from it).
  engine?: EngineInfo | null;
}

export type Probes = Record<BackendName, BackendProbe>;

export interface BackendChoice {
  backend: BackendName;
  source: "flag" | "env" | "auto";
  usable: boolean;
  problems: PreflightProblem[];
  engine?: EngineInfo | null; // docker: from its probe
}

export function parseBackendName(value: string, from: string): BackendName {
  const v = value.trim().toLowerCase();
  if (v === "docker") return "docker";
  if (v === "smolmachines" || v === "smolvm") return "smolmachines";
  throw new UserError(`${from}: unknown backend '${value.slice(0, 40)}'; use one of: ${BACKEND_NAMES.join(", ")}`);
}

// Probes are passed lazily so that an explicit choice probes only that backend.
export function chooseBackend(
  flag: string | undefined,
  envVar: string | undefined,
  probeSet: Probes | ((name: BackendName) => BackendProbe),
): BackendChoice {
  const probes = typeof probeSet === "function" ? probeSet : (n: BackendName) => probeSet[n];
  if (flag) {
    const b = parseBackendName(flag, "--backend");
    return { backend: b, source: "flag", ...probes(b) };
  }
  if (envVar) {
    const b = parseBackendName(envVar, "CLAUDE_BOTTLE_BACKEND");
    return { backend: b, source: "env", ...probes(b) };
  }
  const smol = probes("smolmachines");
  if (smol.usable) return { backend: "smolmachines", source: "auto", ...smol };
  const docker = probes("docker");
  if (docker.usable) return { backend: "docker", source: "auto", ...docker };
  // Nothing usable: report docker (the most widely installable) with every
  // problem found, so the caller can print install pointers.
  return { backend: "docker", source: "auto", usable: false, problems: [...docker.problems, ...smol.problems] };
}

export function noBackendMessage(choice: BackendChoice): string {
  const first = choice.problems[0];
  const detail = first ? `${first.what}; ${first.fix}` : "no backend found";
  if (choice.source === "auto") return `no usable backend (${detail}); run 'claude-bottle doctor' for details`;
  return `backend ${choice.backend} is not usable (${detail}); run 'claude-bottle doctor' for details`;
}

// ---- probing edge ----------------------------------------------------------

// The whole of `docker info` costs the same one call, and says which engine
// this is (docker/engine.ts): the door follows from it.
const DOCKER_PROBE = ["docker", "info", "--format", "{{json .}}"];

export function probeDocker(env: Record<string, string | undefined> = process.env): BackendProbe {
  return dockerVerdict(run(DOCKER_PROBE, env), env);
}

// The probe `up` runs while it loads the manifests. Only docker's asks a
// daemon. `asked`: the engine's answer on the CLI's socket, when the caller
// asked already (engineInfoEarly: before its modules loaded).
export async function probeBackendAsync(
  name: BackendName,
  env: Record<string, string | undefined> = process.env,
  asked: Promise<EngineInfo | null> | null = null,
): Promise<BackendProbe> {
  if (name !== "docker") return probeBackend(name, env);
  // The CLI must be there (every docker call goes through it); the daemon
  // is asked on its socket when that is where the CLI would go: GET /info,
  // what `docker info` prints (the door follows from it), in a few ms.
  if (!Bun.which("docker", { PATH: env.PATH ?? "" })) return dockerVerdict({ ok: false, missing: true, stdout: "" }, env);
  const socket = cliSocket(env);
  const engine = socket !== null ? await (asked ?? engineInfoOnSocket(socket)) : null;
  if (engine) return { usable: true, problems: [], engine };
  return dockerVerdict(await runAsync(DOCKER_PROBE, env), env);
}

function dockerVerdict(r: RunResult, env: Record<string, string | undefined>): BackendProbe {
  if (r.missing) {
    return { usable: false, problems: [{ what: "docker is not installed", fix: "install Docker Engine (Linux) or Docker Desktop, then start it" }] };
  }
  if (!r.ok) {
    // A variable that picked the engine is the first thing to look at.
    const host = env.DOCKER_HOST;
    if (host) {
      return { usable: false, problems: [{ what: `docker daemon at ${host} (DOCKER_HOST) is not reachable`, fix: "start that engine, or unset DOCKER_HOST (or point it at a running one)" }] };
    }
    const ctx = env.DOCKER_CONTEXT;
    if (ctx) {
      return { usable: false, problems: [{ what: `docker daemon of context ${ctx} (DOCKER_CONTEXT) is not reachable`, fix: "start that engine, or unset DOCKER_CONTEXT" }] };
    }
    return { usable: false, problems: [{ what: "docker daemon is not reachable", fix: "start Docker (or dockerd) and check that your user may use it" }] };
  }
  return { usable: true, problems: [], engine: parseEngineInfo(r.stdout) };
}

// The facts are gathered here, synchronously (a dry run must stay cheap);
// the verdict and its install pointers come from the smolmachines backend's
// own preflight, so `up`, `doctor` and a launch always agree.
export function probeSmolvm(
  env: Record<string, string | undefined> = process.env,
  platform: NodeJS.Platform = process.platform,
): BackendProbe {
  const r = run(["smolvm", "--version"], env);
  let kvm: PreflightFacts["kvm"] = "ok";
  if (platform === "linux") {
    if (!existsSync("/dev/kvm")) kvm = "missing";
    else {
      try {
        accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
      } catch {
        kvm = "no-access";
      }
    }
  }
  const crun = platform !== "linux" || Bun.which("crun", { PATH: env.PATH ?? "" }) !== null;
  const res = checkPreflight({
    platform,
    versionOutput: r.missing ? null : r.stdout,
    versionExitCode: r.ok ? 0 : 1,
    kvm,
    crun,
    env,
  });
  return { usable: res.ok, problems: res.problems };
}

export function probeGit(env: Record<string, string | undefined> = process.env): PreflightProblem | null {
  const r = run(["git", "--version"], env);
  if (r.ok) return null;
  return { what: "git is not installed", fix: "install git (apt install git / brew install git)" };
}

// One probe per backend; a new backend name fails to type-check until it has one.
const probers: Record<BackendName, (env: Record<string, string | undefined>) => BackendProbe> = {
  docker: (env) => probeDocker(env),
  smolmachines: (env) => probeSmolvm(env),
};

export function probeBackend(name: BackendName, env: Record<string, string | undefined> = process.env): BackendProbe {
  return probers[name](env);
}

// ---- doctor ------------------------------------------------------------------

// Pure: the doctor's text and verdict from probe results. A backend counts as
// usable only when git is there too (workspace copies and the git gate need it).
// `doors`: the door `up` would use with each usable backend, and what
// would stop it or is unverified about it.
export function formatDoctor(
  probes: Probes,
  git: PreflightProblem | null,
  doors: Partial<Record<BackendName, { door: DoorPlan; notes: string[] }>> = {},
): { ok: boolean; text: string } {
  const lines: string[] = [];
  const usable: BackendName[] = [];
  for (const name of BACKEND_NAMES) {
    const p = probes[name];
    if (p.usable) {
      lines.push(`${name}: ok`);
      const d = doors[name];
      if (d) {
        lines.push(`  door: ${doorLines(d.door).join("; ")}`);
        for (const n of d.notes) lines.push(`  - ${n}`);
      }
      if (!git) usable.push(name);
    } else {
      lines.push(`${name}: not usable`);
      for (const pr of p.problems) lines.push(`  - ${pr.what}: ${pr.fix}`);
    }
  }
  if (git) lines.push(`git: missing`, `  - ${git.what}: ${git.fix}`);
  else lines.push("git: ok");
  if (usable.length > 0) {
    const auto = usable.includes("smolmachines") ? "smolmachines" : "docker";
    lines.push(`ready: ${usable.join(", ")} (auto picks ${auto})`);
  } else {
    lines.push("not ready: no usable backend; fix one of the problems above");
  }
  return { ok: usable.length > 0, text: lines.join("\n") + "\n" };
}

export function doctorReport(env: Record<string, string | undefined> = process.env): { ok: boolean; text: string } {
  const probes = Object.fromEntries(BACKEND_NAMES.map((n) => [n, probeBackend(n, env)])) as Probes;
  const doors: Partial<Record<BackendName, { door: DoorPlan; notes: string[] }>> = {};
  if (probes.docker.usable) {
    try {
      const d = planDoor({ backend: "docker", env, engine: probes.docker.engine });
      doors.docker = { door: d.door, notes: [...d.problems, ...d.warnings] };
    } catch (e) {
      // A bad CLAUDE_BOTTLE_DOOR: said here, as `up` would say it.
      probes.docker = { usable: false, problems: [{ what: (e as Error).message, fix: "unset it or use unix, bridge or auto" }] };
    }
  }
  return formatDoctor(probes, probeGit(env), doors);
}
