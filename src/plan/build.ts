import type { BackendName } from "../backends/names.ts";
import type { DoorPlan, PlanJson } from "./types.ts";
import type { Spec } from "../manifest/spec.ts";

// Spec -> the plan a user confirms. Pure. Only names and modes of env entries
// go in, never values: PlanJson is printed, and may be saved by users.

export function buildPlan(
  spec: Spec,
  opts: { backend: BackendName; slug: string; stateDir: string; warnings: string[]; door?: DoorPlan },
): PlanJson {
  return {
    version: 1,
    agent: spec.agent,
    bottle: spec.bottle,
    backend: opts.backend,
    slug: opts.slug,
    sources: { ...spec.sources },
    env: spec.env.map((e) => ({ name: e.name, mode: e.kind, host_var: e.kind === "host" ? e.hostVar : null })),
    skills: [...spec.skills],
    git: spec.git.map((g) => ({
      name: g.name,
      upstream: g.url,
      branches: g.branches ? [...g.branches] : null,
      allow_force: g.allow_force,
      allow_delete: g.allow_delete,
    })),
    egress: spec.egress.map((r) => ({
      host: r.host,
      ports: r.ports ? [...r.ports] : null,
      methods: r.methods ? [...r.methods] : null,
      paths: r.paths ? [...r.paths] : null,
      tls: r.tls,
      dlp: r.dlp,
      auth: r.auth ? { header: r.auth.header, scheme: r.auth.scheme, token_ref: r.auth.token_ref } : null,
      allow_private: r.allow_private,
      git_push: r.git_push ?? null,
    })),
    workspace: { ...spec.workspace },
    image: spec.image ?? null,
    resources: { ...spec.resources },
    supervise: spec.supervise,
    state_dir: opts.stateDir,
    door: opts.door ?? { kind: "unix", source: "auto", why: "not asked", engine: null, gate_listen: null, add_host: null },
    warnings: [...opts.warnings],
  };
}

// Host variables the gate will need at launch for credential injection.
export function missingTokenRefs(spec: Spec, hostEnv: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const r of spec.egress) {
    if (r.auth && hostEnv[r.auth.token_ref] === undefined && !out.includes(r.auth.token_ref)) out.push(r.auth.token_ref);
  }
  return out;
}

// A route that may reach every private and loopback address (an exact host
// only: the manifest refuses it on a wildcard) is shown as a warning: the
// user may have meant one LAN service, not all of them.
// A mounted workspace is the bottle's to write, .git included, and what it
// plants there (a nested .git, .git/commondir, a submodule of its own) can
// set core.fsmonitor for the next git that runs in that folder on this
// machine, a shell prompt's included: no read-only mount closes that while
// the agent may commit (README, Known limits).
export function mountWarnings(spec: Spec): string[] {
  if (spec.workspace.mode !== "mount") return [];
  return [
    `workspace mount: the bottle can write ${spec.workspace.path}, its .git included, and a file it plants there can make git on this machine run its code (a shell prompt runs git); review the folder before using git there, or use the default copy workspace`,
  ];
}

export function privateWarnings(spec: Spec): string[] {
  return spec.egress
    .filter((r) => r.allow_private === true)
    .map(
      (r) =>
        `egress ${r.host}: allow_private: true lets it reach every private and loopback address (LAN services, this machine's own services); name the ones it needs instead, e.g. allow_private: ["10.0.0.5:5432"]`,
    );
}
