import type { EgressRoute, GitUpstream, Resources } from "../manifest/schema.ts";

// How an env entry gets its value at launch. Values are resolved only at
// launch time and only kept in memory; the plan carries names and modes.
export type EnvEntry =
  | { name: string; kind: "literal"; value: string }
  | { name: string; kind: "host"; hostVar: string }
  | { name: string; kind: "prompt"; prompt: string };

export type BackendName = "docker" | "smolmachines";
export type WorkspaceMode = "copy" | "mount" | "none";

// The resolved spec: agent + bottle after `extends`, with the Claude Code
// defaults merged in. Pure data, produced by src/manifest/resolve.ts.
export interface Spec {
  agent: string;
  bottle: string;
  sources: { agent: string; bottle: string }; // file paths or "<embedded>"
  prompt: string; // the agent's system prompt (markdown body)
  env: EnvEntry[];
  egress: EgressRoute[];
  git: GitUpstream[];
  skills: string[];
  image?: string;
  resources: Resources;
  supervise: boolean;
  workspace: { mode: WorkspaceMode; path: string | null };
}

// The JSON plan (`up --dry-run --format json`). Stable and documented in the
// README; bump `version` on any incompatible change. Never holds a value of
// an env entry or a credential: names only.
export interface PlanJson {
  version: 1;
  agent: string;
  bottle: string;
  backend: BackendName;
  slug: string;
  sources: { agent: string; bottle: string };
  // host_var: for mode "host", the NAME of the host variable copied in (null
  // otherwise). Optional in the type only for hand-made test plans; buildPlan
  // always sets it.
  env: { name: string; mode: "literal" | "host" | "prompt"; host_var?: string | null }[];
  skills: string[];
  git: { name: string; upstream: string; branches: string[] | null; allow_force: boolean; allow_delete: boolean }[];
  egress: {
    host: string;
    ports: number[] | null;
    methods: string[] | null;
    paths: string[] | null;
    tls: "terminate" | "passthrough";
    dlp: "on" | "off";
    auth: { header: string; scheme: string; token_ref: string } | null;
    allow_private: boolean;
  }[];
  workspace: { mode: WorkspaceMode; path: string | null };
  image: string | null;
  resources: Resources;
  supervise: boolean;
  state_dir: string;
  // Things the user should know before confirming (e.g. no usable backend
  // during a dry run, a token_ref not set on the host). Also printed on stderr.
  warnings: string[];
}
