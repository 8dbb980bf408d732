import type { BackendName } from "../backends/names.ts";
import type { Resources } from "../manifest/schema.ts";
import type { WorkspaceMode } from "../manifest/spec.ts";

// PlanJson is produced by build.ts. Spec lives with manifest (which produces
// it), BackendName with backends.

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
