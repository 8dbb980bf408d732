import { networkInterfaces } from "node:os";
import { UserError } from "../errors.ts";
import type { DoorPlan } from "../plan/types.ts";
import { cliSocket } from "./docker/api.ts";
import { chooseDoor } from "./door.ts";
import { assessEngine, bridgeRoute, GATE_HOST_NAME, hostFacts, type EngineAssessment, type EngineInfo } from "./docker/engine.ts";
import type { BackendName } from "./names.ts";
import { run } from "./probe-run.ts";

// The edge of the door choice (backends/door.ts): where the docker CLI
// reaches its engine, and, for an engine on this machine that cannot see
// our files, the address of its bridge network here. Two more docker calls
// at most, made only when the answer is needed.

type Env = Record<string, string | undefined>;

export function dockerEndpoint(env: Env): string {
  if (env.DOCKER_HOST) return env.DOCKER_HOST;
  // No context chosen: the CLI's default socket (read without running it).
  const socket = cliSocket(env);
  if (socket !== null) return `unix://${socket}`;
  // A context (DOCKER_CONTEXT, or the CLI config's current one): its
  // endpoint by the CLI's own rules, not ours.
  const r = run(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"], env);
  return (r.ok && r.stdout.trim()) || "unix:///var/run/docker.sock";
}

// The engine's default bridge network, as an address of this machine: its
// interface (docker0, or the --bridge a dockerd was given) or its gateway.
export function engineBridgeAddress(env: Env): string | null {
  const r = run(["docker", "network", "inspect", "bridge", "--format", "{{json .}}"], env);
  if (!r.ok) return null;
  let ifname = "";
  let gateway = "";
  try {
    const j = JSON.parse(r.stdout) as { Options?: Record<string, string>; IPAM?: { Config?: { Gateway?: string }[] } };
    ifname = j.Options?.["com.docker.network.bridge.name"] ?? "";
    gateway = j.IPAM?.Config?.find((c) => c.Gateway)?.Gateway ?? "";
  } catch {
    return null;
  }
  // Not os.networkInterfaces(): libuv leaves out an interface that is not
  // RUNNING, which a docker bridge with no container attached is not.
  const ip = ifname && /^[\w.-]{1,15}$/.test(ifname) ? run(["ip", "-4", "-o", "addr", "show", "dev", ifname], env) : null;
  const onIf = ip?.ok ? /\binet (\d{1,3}(?:\.\d{1,3}){3})\//.exec(ip.stdout)?.[1] : undefined;
  if (onIf) return onIf;
  // No `ip` (or no such interface here): the gateway the engine reports,
  // if it is one of our addresses; binding to it proves the rest.
  const local = Object.values(networkInterfaces()).some((l) => l?.some((a) => a.address === gateway));
  return gateway && (local || (ip?.missing ?? false)) ? gateway : null;
}

export function assessDocker(env: Env, info: EngineInfo): EngineAssessment {
  return assessEngine(info, dockerEndpoint(env), hostFacts(info));
}

// The plan's door, and what would stop a launch with it (for a dry run:
// warnings). `engine`: what `docker info` said (null: not asked / failed).
export function planDoor(args: { backend: BackendName; flag?: string; env: Env; engine: EngineInfo | null | undefined }): { door: DoorPlan; problems: string[]; warnings: string[] } {
  const assessed = args.backend === "docker" && args.engine ? assessDocker(args.env, args.engine) : null;
  const d = chooseDoor({ flag: args.flag, envVar: args.env.CLAUDE_BOTTLE_DOOR, backend: args.backend, engine: assessed });
  const door: DoorPlan = { kind: d.kind, source: d.source, why: d.why, engine: assessed?.label ?? null, gate_listen: null, add_host: null };
  const problems: string[] = [];
  const warnings = d.warning ? [d.warning] : [];
  if (d.kind !== "bridge") return { door, problems, warnings };
  if (assessed?.kind === "remote") {
    problems.push(`${assessed.why}: its bridge container could not reach a gate on this machine; use an engine on this machine or in a VM on it (Docker Desktop, OrbStack, colima)`);
  }
  const route = bridgeRoute(assessed?.kind ?? "here");
  if (!route.documented) warnings.push(`the bridge door with ${assessed?.label ?? "this engine"} is a guess (loopback, host-gateway); run scripts/verify-docker-desktop.sh to check it`);
  const listen = route.listen.kind === "loopback" ? "127.0.0.1" : engineBridgeAddress(args.env);
  if (listen === null) {
    problems.push("the docker engine's bridge network has no address on this machine, so the gate cannot listen where the bridge container would dial; run claude-bottle where the engine runs");
    return { door, problems, warnings };
  }
  door.gate_listen = listen;
  const target = route.addHost === "<bridge>" ? listen : route.addHost;
  door.add_host = target === null ? null : `${GATE_HOST_NAME}:${target}`;
  return { door, problems, warnings };
}

// The door for a launch now (`resume`): the engine may have changed since
// the bottle was planned (another context, Docker Desktop started). Throws
// what would stop the launch; returns what to warn about.
export async function doorNow(backend: BackendName, flag: string | undefined, env: Env): Promise<{ door: DoorPlan; warnings: string[] }> {
  const { probeDocker } = await import("./select.ts");
  const engine = backend === "docker" ? probeDocker(env).engine : null;
  const d = planDoor({ backend, flag, env, engine });
  if (d.problems.length > 0) throw new UserError(d.problems[0]!);
  return { door: d.door, warnings: d.warnings };
}
