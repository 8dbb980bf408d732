import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

// Is the daemon there? Asked on its socket (GET /_ping, about a millisecond)
// instead of through `docker info` (a CLI start and a fuller query, about 20
// ms and 13 ms of CPU), but only where the docker CLI itself would use that
// socket: DOCKER_HOST unset or unix://, no context chosen. Anything else, or
// a failed ping, goes to the CLI, which has the last word.

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
