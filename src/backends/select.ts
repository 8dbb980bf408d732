import { accessSync, constants } from "node:fs";
import { UserError } from "../errors.ts";
import type { BackendName } from "../plan/types.ts";

// Backend choice: --backend > CLAUDE_BOTTLE_BACKEND > auto (a usable smolvm
// first: a microVM is the stronger wall; then a reachable docker daemon).
// `chooseBackend` is pure; the probes below are the edge that runs commands.

export const BACKENDS: readonly BackendName[] = ["docker", "smolmachines"];
export const MIN_SMOLVM = "1.9.0";

export interface Problem {
  what: string;
  fix: string;
}

export interface BackendProbe {
  usable: boolean;
  problems: Problem[];
}

export type Probes = Record<BackendName, BackendProbe>;

export interface BackendChoice {
  backend: BackendName;
  source: "flag" | "env" | "auto";
  usable: boolean;
  problems: Problem[];
}

export function parseBackendName(value: string, from: string): BackendName {
  const v = value.trim().toLowerCase();
  if (v === "docker") return "docker";
  if (v === "smolmachines" || v === "smolvm") return "smolmachines";
  throw new UserError(`${from}: unknown backend '${value.slice(0, 40)}'; use one of: ${BACKENDS.join(", ")}`);
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

interface RunResult {
  ok: boolean;
  missing: boolean;
  stdout: string;
}

function run(argv: string[], env: Record<string, string | undefined>): RunResult {
  const path = env.PATH ?? "";
  const exe = Bun.which(argv[0]!, { PATH: path });
  if (!exe) return { ok: false, missing: true, stdout: "" };
  try {
    const r = Bun.spawnSync([exe, ...argv.slice(1)], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: env as Record<string, string>,
      // A wedged daemon must not hang `up --dry-run` or `doctor`.
      timeout: 8000,
    });
    return { ok: r.exitCode === 0, missing: false, stdout: r.stdout.toString() };
  } catch {
    return { ok: false, missing: true, stdout: "" };
  }
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function parseVersion(text: string): string | null {
  return /(\d+)\.(\d+)\.(\d+)/.exec(text)?.slice(1, 4).join(".") ?? null;
}

export function probeDocker(env: Record<string, string | undefined> = process.env): BackendProbe {
  const r = run(["docker", "info", "--format", "{{.ServerVersion}}"], env);
  if (r.missing) {
    return { usable: false, problems: [{ what: "docker is not installed", fix: "install Docker Engine (Linux) or Docker Desktop, then start it" }] };
  }
  if (!r.ok) {
    return { usable: false, problems: [{ what: "docker daemon is not reachable", fix: "start Docker (or dockerd) and check that your user may use it" }] };
  }
  return { usable: true, problems: [] };
}

export function probeSmolvm(
  env: Record<string, string | undefined> = process.env,
  platform: NodeJS.Platform = process.platform,
): BackendProbe {
  const problems: Problem[] = [];
  const r = run(["smolvm", "--version"], env);
  if (r.missing) problems.push({ what: "smolvm is not installed", fix: `install smolvm ${MIN_SMOLVM} or newer (brew install smolvm, or the release from its project page)` });
  else {
    const v = parseVersion(r.stdout);
    if (!r.ok || !v) problems.push({ what: "smolvm --version failed", fix: `reinstall smolvm ${MIN_SMOLVM} or newer` });
    else if (compareVersions(v, MIN_SMOLVM) < 0) problems.push({ what: `smolvm ${v} is too old`, fix: `upgrade smolvm to ${MIN_SMOLVM} or newer` });
  }
  if (platform === "linux") {
    try {
      accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    } catch {
      problems.push({ what: "/dev/kvm is missing or not readable and writable", fix: "enable KVM and add your user to the kvm group" });
    }
    if (!Bun.which("crun", { PATH: env.PATH ?? "" })) problems.push({ what: "crun is not installed", fix: "install crun (apt install crun / dnf install crun)" });
  }
  return { usable: problems.length === 0, problems };
}

export function probeGit(env: Record<string, string | undefined> = process.env): Problem | null {
  const r = run(["git", "--version"], env);
  if (r.ok) return null;
  return { what: "git is not installed", fix: "install git (apt install git / brew install git)" };
}

export function probeBackend(name: BackendName, env: Record<string, string | undefined> = process.env): BackendProbe {
  return name === "docker" ? probeDocker(env) : probeSmolvm(env);
}

// ---- doctor ------------------------------------------------------------------

// Pure: the doctor's text and verdict from probe results. A backend counts as
// usable only when git is there too (workspace copies and the git gate need it).
export function formatDoctor(probes: Probes, git: Problem | null): { ok: boolean; text: string } {
  const lines: string[] = [];
  const usable: BackendName[] = [];
  for (const name of BACKENDS) {
    const p = probes[name];
    if (p.usable) {
      lines.push(`${name}: ok`);
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
  return formatDoctor({ docker: probeDocker(env), smolmachines: probeSmolvm(env) }, probeGit(env));
}
