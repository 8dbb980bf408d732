import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseEngineInfo, type EngineInfo } from "./engine.ts";

// The few read-only questions a launch asks the engine on its critical
// path, asked on the engine's socket (about a millisecond) instead of
// through the docker CLI (a process start: about 20 ms and 13 ms of CPU
// each), but only where the docker CLI itself would use that socket:
// DOCKER_HOST unset or unix://, no context chosen. Anything else, or a
// failed call, goes to the CLI, which has the last word. Everything that
// changes anything (run, exec, rm, build) always goes through the CLI.

const DEFAULT_SOCKET = "/var/run/docker.sock";

// Pure but for reading the CLI's config file: the socket the docker CLI
// would talk to, or null when only the CLI can tell (a context, tcp://, ssh://).
export function cliSocket(env: Record<string, string | undefined>, readConfig: (file: string) => string | null = readText): string | null {
  if (env.DOCKER_CONTEXT) return null;
  const host = env.DOCKER_HOST;
  if (host !== undefined && host !== "") return host.startsWith("unix://") && host.length > "unix://".length ? host.slice("unix://".length) : null;
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), ".docker");
  const text = readConfig(join(dir, "config.json"));
  if (text !== null) {
    try {
      const ctx = (JSON.parse(text) as { currentContext?: unknown }).currentContext;
      if (typeof ctx === "string" && ctx !== "" && ctx !== "default") return null;
    } catch {
      return null; // the CLI would complain about it: let it
    }
  }
  return DEFAULT_SOCKET;
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

export async function pingSocket(socket: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const r = await fetch("http://docker/_ping", { unix: socket, signal: AbortSignal.timeout(timeoutMs) });
    return r.ok && (await r.text()) === "OK";
  } catch {
    return false;
  }
}

// GET /info: what `docker info` prints, the facts the door is chosen from
// (engine.ts); null when the socket could not answer (ask the CLI).
export async function engineInfoOnSocket(socket: string, timeoutMs = 2000): Promise<EngineInfo | null> {
  try {
    const r = await fetch("http://docker/info", { unix: socket, signal: AbortSignal.timeout(timeoutMs) });
    return r.ok ? parseEngineInfo(await r.text()) : null;
  } catch {
    return null;
  }
}

// GET /info on the socket the CLI would use, asked as early as a command
// can (api.ts loads in well under a millisecond; the engine takes several
// to answer, which then overlap whatever loads meanwhile); null when only
// the CLI can tell (select.ts probeBackendAsync then asks it).
export function engineInfoEarly(env: Record<string, string | undefined>): Promise<EngineInfo | null> | null {
  const socket = cliSocket(env);
  return socket === null ? null : engineInfoOnSocket(socket);
}

// GET /containers/{name}/json: the container's state ("running", "exited",
// ...); null when it does not exist; undefined when the socket could not
// answer (ask the CLI). The bridge door's keeper asks this every 2 s.
export async function containerStateOnSocket(socket: string, name: string, timeoutMs = 2000): Promise<string | null | undefined> {
  try {
    const r = await fetch(`http://docker/containers/${encodeURIComponent(name)}/json`, { unix: socket, signal: AbortSignal.timeout(timeoutMs) });
    if (r.status === 404) return null;
    if (!r.ok) return undefined;
    const status = ((await r.json()) as { State?: { Status?: unknown } }).State?.Status;
    return typeof status === "string" ? status : undefined;
  } catch {
    return undefined;
  }
}

export interface ContainerFacts {
  id: string;
  pid: number;
  running: boolean;
}

// GET /containers/{id}/json: what ready.ts needs to find the started
// bottle's first process on this host; null when the socket could not say.
export async function containerFactsOnSocket(socket: string, id: string, timeoutMs = 2000): Promise<ContainerFacts | null> {
  try {
    const r = await fetch(`http://docker/containers/${encodeURIComponent(id)}/json`, { unix: socket, signal: AbortSignal.timeout(timeoutMs) });
    if (!r.ok) return null;
    const j = (await r.json()) as { Id?: unknown; State?: { Pid?: unknown; Running?: unknown } };
    if (typeof j.Id !== "string" || typeof j.State?.Pid !== "number" || typeof j.State.Running !== "boolean") return null;
    return { id: j.Id, pid: j.State.Pid, running: j.State.Running };
  } catch {
    return null;
  }
}

export interface ImageFacts {
  id: string;
  arch: string;
  labels: Record<string, string>;
}

// GET /images/{name}/json: the image's id, architecture and labels; null
// when it does not exist; undefined when the socket could not answer (ask
// the CLI).
export async function inspectImageOnSocket(socket: string, name: string, timeoutMs = 5000): Promise<ImageFacts | null | undefined> {
  try {
    const r = await fetch(`http://docker/images/${encodeURIComponent(name)}/json`, { unix: socket, signal: AbortSignal.timeout(timeoutMs) });
    if (r.status === 404) return null;
    if (!r.ok) return undefined;
    const j = (await r.json()) as { Id?: unknown; Architecture?: unknown; Config?: { Labels?: Record<string, string> | null } | null };
    if (typeof j.Id !== "string" || typeof j.Architecture !== "string") return undefined;
    return { id: j.Id, arch: j.Architecture, labels: j.Config?.Labels ?? {} };
  } catch {
    return undefined;
  }
}
