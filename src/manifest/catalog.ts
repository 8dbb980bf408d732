import { UserError } from "../errors.ts";
import { EMBEDDED, embeddedAgents, embeddedBottles } from "../defaults/claude.ts";
import { parseAgent, parseBottle } from "./parse.ts";
import type { AgentManifest, BottleManifest } from "./schema.ts";

// Every bottle and agent known for one run: embedded defaults, then files.
// Pure: takes the raw files the loader found, returns validated manifests.

export interface RawFile {
  name: string; // file name without .md
  path: string;
  bytes: Uint8Array | string;
}

export interface RawManifests {
  homeBottles: RawFile[];
  homeAgents: RawFile[];
  repoAgents: RawFile[];
}

export interface BottleEntry {
  name: string;
  source: string; // file path or "<embedded>"
  manifest: BottleManifest;
}

export interface AgentEntry {
  name: string;
  source: string;
  origin: "embedded" | "home" | "repo";
  manifest: AgentManifest;
  prompt: string;
}

export interface Catalog {
  bottles: Map<string, BottleEntry>;
  agents: Map<string, AgentEntry>;
}

export function buildCatalog(raw: RawManifests, hostEnv: Record<string, string | undefined>): Catalog {
  const bottles = new Map<string, BottleEntry>();
  for (const [name, manifest] of Object.entries(embeddedBottles(hostEnv))) bottles.set(name, { name, source: EMBEDDED, manifest });
  // A home file with an embedded name replaces the default: the home
  // directory is trusted, and this is how a user customizes `claude`.
  for (const f of raw.homeBottles) bottles.set(f.name, { name: f.name, source: f.path, manifest: parseBottle(f.path, f.bytes) });

  const agents = new Map<string, AgentEntry>();
  for (const [name, a] of Object.entries(embeddedAgents)) agents.set(name, { name, source: EMBEDDED, origin: "embedded", ...a });
  for (const f of raw.homeAgents) agents.set(f.name, { name: f.name, source: f.path, origin: "home", ...parseAgent(f.path, f.bytes) });
  for (const f of raw.repoAgents) {
    const prior = agents.get(f.name);
    if (prior && prior.origin === "home") {
      // Silently preferring either one would surprise someone: a repo could
      // shadow a trusted agent, or a user could miss the repo's version.
      throw new UserError(
        `agent '${f.name}' is defined twice: ${prior.source} and ${f.path}; rename or remove one of them`,
      );
    }
    agents.set(f.name, { name: f.name, source: f.path, origin: "repo", ...parseAgent(f.path, f.bytes) });
  }
  return { bottles, agents };
}
