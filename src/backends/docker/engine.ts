import { existsSync } from "node:fs";
import { release } from "node:os";

// Which docker engine the CLI talks to, judged from what the engine itself
// reports (`docker info`) and where the CLI reaches it (its endpoint), never
// from the host OS alone: a Linux host can run Docker Desktop (a VM), a
// second dockerd in its own mount namespace, or talk to another machine.
// Pure but for `hostFacts`. Why it matters: docs/design/docker-desktop.md.

// The fields of `docker info --format '{{json .}}'` we read.
export interface EngineInfo {
  name: string; // the engine's host name: "docker-desktop", "orbstack", "colima", ...
  operatingSystem: string; // "Docker Desktop", "OrbStack", "Debian GNU/Linux 12 (bookworm)", ...
  kernelVersion: string;
  osType: string; // "linux"
  rootDir: string; // DockerRootDir
}

export function parseEngineInfo(json: string): EngineInfo | null {
  try {
    const j = JSON.parse(json) as Record<string, unknown>;
    const s = (k: string) => (typeof j[k] === "string" ? (j[k] as string) : "");
    return { name: s("Name"), operatingSystem: s("OperatingSystem"), kernelVersion: s("KernelVersion"), osType: s("OSType"), rootDir: s("DockerRootDir") };
  } catch {
    return null;
  }
}

export interface HostFacts {
  platform: NodeJS.Platform;
  kernel: string; // os.release()
  // Does the engine's data root exist at the same path here? A daemon that
  // shares this machine's filesystem has its DockerRootDir in it.
  rootDirHere: boolean;
}

export function hostFacts(info: EngineInfo | null, platform: NodeJS.Platform = process.platform): HostFacts {
  return { platform, kernel: release(), rootDirHere: Boolean(info?.rootDir) && platform === "linux" && existsSync(info!.rootDir) };
}

// Where the docker CLI reaches the engine. A unix socket (or a named pipe),
// or TCP to a loopback address, is this machine; ssh:// or TCP elsewhere is
// another one.
export function endpointIsLocal(endpoint: string): boolean {
  if (/^(unix|npipe):\/\//.test(endpoint)) return true;
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)/.exec(endpoint);
  if (!m) return false;
  const host = m[1]!.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

export type EngineKind = "docker-desktop" | "orbstack" | "colima" | "lima" | "vm" | "here" | "remote";

export interface EngineAssessment {
  kind: EngineKind;
  // Does the engine share this machine's kernel and filesystem? Only then
  // can a host unix socket be bind-mounted into a container (the unix door).
  sharesHost: boolean;
  label: string; // for the plan and doctor: "Docker Desktop", "the local dockerd", ...
  why: string; // one clause: why the door follows
}

export function assessEngine(info: EngineInfo, endpoint: string, host: HostFacts): EngineAssessment {
  const os = info.operatingSystem;
  const name = info.name.toLowerCase();
  if (!endpointIsLocal(endpoint)) {
    return { kind: "remote", sharesHost: false, label: `the engine at ${endpoint}`, why: `the engine is reached at ${endpoint}, on another machine` };
  }
  if (/docker desktop/i.test(os)) return vm("docker-desktop", "Docker Desktop");
  // OrbStack has reported its OS as "Alpine Linux edge (containerized)";
  // its kernel carries its name ("6.1.23-orbstack-00113-g6614aaccb205").
  if (/orbstack/i.test(os) || /orbstack/i.test(info.kernelVersion) || name === "orbstack") return vm("orbstack", "OrbStack");
  if (name === "colima" || name.startsWith("colima-")) return vm("colima", `colima (${info.name})`);
  if (name.startsWith("lima-")) return vm("lima", `lima (${info.name})`);
  if (host.platform !== "linux") return vm("vm", `the engine ${info.name || "(unnamed)"} (${os || "unknown OS"})`);
  if (info.kernelVersion !== host.kernel) {
    return { kind: "vm", sharesHost: false, label: `the engine ${info.name}`, why: `the engine runs another kernel (${info.kernelVersion}, here ${host.kernel}): a VM` };
  }
  if (!host.rootDirHere) {
    return {
      kind: "here",
      sharesHost: false,
      label: `the engine at ${endpoint}`,
      why: `the engine's data root ${info.rootDir || "(unknown)"} is not on this machine's filesystem: it runs in another mount namespace and cannot see our files`,
    };
  }
  return { kind: "here", sharesHost: true, label: `the engine at ${endpoint}`, why: `the engine shares this machine's kernel and filesystem (${endpoint}, data root ${info.rootDir})` };

  function vm(kind: EngineKind, label: string): EngineAssessment {
    return { kind, sharesHost: false, label, why: `the engine runs in a VM (${label}): a host unix socket cannot cross into it` };
  }
}

// How the bridge container reaches the gate (the bridge door). The gate
// listens only where the engine routes `host.docker.internal`:
// - Docker Desktop, OrbStack: the name is theirs; connections to it arrive
//   on the host's loopback.
// - colima: it sets the daemon's host-gateway-ip to the host's loopback
//   address in its VM (lima's 192.168.5.2), so `host-gateway` maps the name.
// - lima: 192.168.5.2 is the host's loopback in lima's user-mode network.
// - another VM we do not know: the loopback and `host-gateway`, unverified.
// - a dockerd on this machine that cannot see our files: the address of
//   its bridge interface (`bridgeAddress`), given explicitly.
export type BridgeListen = { kind: "loopback" } | { kind: "engine-bridge" };

export interface BridgeRoute {
  listen: BridgeListen;
  // `--add-host host.docker.internal:<this>`; null: the engine resolves the
  // name itself. "<bridge>" is replaced by the engine bridge's address.
  addHost: string | null;
  documented: boolean; // false: a guess for an engine we do not know; `doctor` says so
}

export const GATE_HOST_NAME = "host.docker.internal";

export function bridgeRoute(kind: EngineKind): BridgeRoute {
  switch (kind) {
    case "docker-desktop":
    case "orbstack":
      return { listen: { kind: "loopback" }, addHost: null, documented: true };
    case "colima":
      return { listen: { kind: "loopback" }, addHost: "host-gateway", documented: true };
    case "lima":
      return { listen: { kind: "loopback" }, addHost: "192.168.5.2", documented: true };
    case "vm":
      return { listen: { kind: "loopback" }, addHost: "host-gateway", documented: false };
    case "here":
    case "remote":
      return { listen: { kind: "engine-bridge" }, addHost: "<bridge>", documented: true };
  }
}
