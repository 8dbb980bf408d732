import { UserError } from "../errors.ts";
import { claudeCodeRoutes, mergeClaudeRoutes } from "../defaults/claude.ts";
import type { Spec, WorkspaceMode } from "./spec.ts";
import type { Catalog } from "./catalog.ts";
import { parseEnvEntries } from "./env.ts";
import { resolveBottle } from "./extends.ts";
import type { AgentManifest, EgressRoute, GitUpstream } from "./schema.ts";

// agent + bottle -> Spec. Pure: the host environment and the workspace facts
// are passed in. Checks here are the ones that need the whole picture (one
// file alone cannot know them).

// The CA variables the launcher sets for every bottle (launch/trust-env.ts
// gives each its file; typed against this list so the two cannot drift).
export const TRUST_VARS = [
  "NODE_EXTRA_CA_CERTS",
  "NPM_CONFIG_CAFILE",
  "SSL_CERT_FILE",
  "REQUESTS_CA_BUNDLE",
  "CURL_CA_BUNDLE",
  "GIT_SSL_CAINFO",
  "PIP_CERT",
  "CARGO_HTTP_CAINFO",
  "DENO_CERT",
] as const;
export type TrustVar = (typeof TRUST_VARS)[number];

// Set by the launcher for every bottle (proxy, CA trust); a manifest entry
// would either be overwritten or break the one door.
export const RESERVED_ENV = new Set([
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "http_proxy",
  "https_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
  ...TRUST_VARS,
  "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
]);

export interface WorkspaceFacts {
  cwd: string;
  gitRoot: string | null; // top of the git work tree containing cwd
  mountFlag: boolean; // `up --mount`
}

// --mount > the agent's `workspace:` > copy inside a git repo, else none.
export function chooseWorkspace(agent: AgentManifest, facts: WorkspaceFacts): Spec["workspace"] {
  let mode: WorkspaceMode;
  if (facts.mountFlag) mode = "mount";
  else if (agent.workspace) mode = agent.workspace;
  else mode = facts.gitRoot ? "copy" : "none";
  return { mode, path: mode === "none" ? null : (facts.gitRoot ?? facts.cwd) };
}

function checkEnvAgainstCredentials(spec: Pick<Spec, "env" | "egress">, where: string): void {
  const refs = new Map<string, string>();
  for (const r of spec.egress) if (r.auth && !refs.has(r.auth.token_ref)) refs.set(r.auth.token_ref, r.host);
  for (const e of spec.env) {
    if (RESERVED_ENV.has(e.name)) {
      throw new UserError(`env ${e.name} (${where}) is set by claude-bottle itself (proxy and CA settings); remove it from the bottle`);
    }
    // The bottle gets a placeholder under a token_ref's name; the real value
    // must never be copied in, under that name or any other.
    const host = refs.get(e.name);
    if (host) {
      throw new UserError(
        `env ${e.name} (${where}) is the credential injected for ${host}; remove it from env: the bottle gets a placeholder and the gate adds the real value on the wire`,
      );
    }
    if (e.kind === "host" && refs.has(e.hostVar)) {
      throw new UserError(
        `env ${e.name} (${where}) copies \${${e.hostVar}}, the credential injected for ${refs.get(e.hostVar)}; remove it: that secret must stay on the host`,
      );
    }
  }
}

function checkGit(git: readonly GitUpstream[], where: string): void {
  const seen = new Set<string>();
  for (const [i, g] of git.entries()) {
    if (seen.has(g.name)) throw new UserError(`${where}: git[${i}].name: '${g.name}' is used twice; each upstream needs its own name`);
    seen.add(g.name);
    // A password in the URL would be shown in the plan and copied around;
    // tokens belong in token_ref, which stays on the host.
    try {
      const u = new URL(g.url);
      if (u.password) throw new UserError(`${where}: git[${i}].url contains a password; put the token in a host variable and name it in token_ref`);
    } catch (e) {
      if (e instanceof UserError) throw e;
      // scp-like ssh URLs (git@host:path) are not WHATWG URLs; that's fine.
    }
  }
}

function checkDuplicateHosts(routes: readonly EgressRoute[], where: string): void {
  const seen = new Set<string>();
  for (const [i, r] of routes.entries()) {
    const key = `${r.host.toLowerCase()}|${(r.ports ?? []).join(",")}`;
    if (seen.has(key)) throw new UserError(`${where}: egress[${i}].host: '${r.host}' is listed twice; merge the two routes`);
    seen.add(key);
  }
}

// A credential is injected only into requests the gate sends over TLS it
// verified (docs/design/gate.md): a route that could only carry it some
// other way is a mistake to report now, not a refusal to find at run time.
export function checkCredentialRoutes(routes: readonly EgressRoute[], where: string): void {
  for (const [i, r] of routes.entries()) {
    if (!r.auth) continue;
    if (r.tls === "passthrough") {
      throw new UserError(
        `${where}: egress[${i}] (${r.host}) has auth with tls: passthrough; the gate injects a credential only inside TLS it terminates: remove tls: passthrough or auth`,
      );
    }
    if (r.ports?.includes(80)) {
      throw new UserError(
        `${where}: egress[${i}].ports (${r.host}) lists 80, plain http; a credential is only sent over https: remove 80 (a route with auth and no ports means 443)`,
      );
    }
  }
}

export function resolveSpec(
  catalog: Catalog,
  agentName: string,
  hostEnv: Record<string, string | undefined>,
  workspace: WorkspaceFacts,
): Spec {
  const agent = catalog.agents.get(agentName);
  if (!agent) {
    const names = [...catalog.agents.keys()].sort().join(", ");
    throw new UserError(`agent '${agentName}' does not exist; agents: ${names} (add one in ~/.claude-bottle/agents/${agentName}.md)`);
  }
  const bottleName = agent.manifest.bottle;
  const bottleEntry = catalog.bottles.get(bottleName);
  if (!bottleEntry) {
    const names = [...catalog.bottles.keys()].sort().join(", ");
    throw new UserError(
      `agent '${agentName}' (${agent.source}) uses bottle '${bottleName}', which does not exist; bottles: ${names}`,
    );
  }
  const bottle = resolveBottle(bottleName, catalog.bottles);
  const where = bottleEntry.source;
  const userRoutes = bottle.egress ?? [];
  checkDuplicateHosts(userRoutes, where);
  checkCredentialRoutes(userRoutes, where);
  const egress = mergeClaudeRoutes(userRoutes, claudeCodeRoutes(hostEnv));
  const env = parseEnvEntries(bottle.env);
  checkEnvAgainstCredentials({ env, egress }, where);
  const git = bottle.git ?? [];
  checkGit(git, where);
  return {
    agent: agentName,
    bottle: bottleName,
    sources: { agent: agent.source, bottle: bottleEntry.source },
    prompt: agent.prompt,
    env,
    egress,
    git,
    skills: agent.manifest.skills ?? [],
    ...(bottle.image !== undefined ? { image: bottle.image } : {}),
    resources: bottle.resources ?? {},
    supervise: bottle.supervise ?? false,
    workspace: chooseWorkspace(agent.manifest, workspace),
  };
}
