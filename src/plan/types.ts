import * as z from "../zod.ts";
import { BACKEND_NAMES } from "../backends/names.ts";
import { DOOR_KINDS } from "../backends/door.ts";
import { resourcesSchema } from "../manifest/schema.ts";
import { workspaceSchema } from "../manifest/workspace.ts";

// PlanJson is produced by build.ts. Spec lives with manifest (which produces
// it), BackendName with backends. The schema is what a saved plan.json is
// read back through (`resume`); the type is derived from it.

// The JSON plan (`up --dry-run --format json`). Stable and documented in the
// README; bump `version` on any incompatible change. Never holds a value of
// an env entry or a credential: names only.
// The bottle's door to its gate (backends/door.ts): which one, chosen how,
// and why. For the bridge door also where the gate's TCP door listens (its
// port is chosen at launch) and the bridge container's --add-host entry
// (null: the engine resolves host.docker.internal itself).
export const doorPlanSchema = z.object({
  kind: z.enum(DOOR_KINDS),
  source: z.enum(["flag", "env", "auto"]),
  why: z.string(),
  engine: z.nullable(z.string()),
  gate_listen: z.nullable(z.string()),
  add_host: z.nullable(z.string()),
});

export type DoorPlan = z.output<typeof doorPlanSchema>;

export const planJsonSchema = z.object({
  version: z.literal(1),
  agent: z.string(),
  bottle: z.string(),
  backend: z.enum(BACKEND_NAMES),
  slug: z.string(),
  sources: z.object({ agent: z.string(), bottle: z.string() }),
  // host_var: for mode "host", the NAME of the host variable copied in (null
  // otherwise). Optional in the type only for hand-made test plans; buildPlan
  // always sets it.
  env: z.array(z.object({ name: z.string(), mode: z.enum(["literal", "host", "prompt"]), host_var: z.optional(z.nullable(z.string())) })),
  skills: z.array(z.string()),
  git: z.array(
    z.object({ name: z.string(), upstream: z.string(), branches: z.nullable(z.array(z.string())), allow_force: z.boolean(), allow_delete: z.boolean() }),
  ),
  egress: z.array(
    z.object({
      host: z.string(),
      ports: z.nullable(z.array(z.number())),
      methods: z.nullable(z.array(z.string())),
      paths: z.nullable(z.array(z.string())),
      tls: z.enum(["terminate", "passthrough"]),
      dlp: z.enum(["on", "off"]),
      auth: z.nullable(z.object({ header: z.string(), scheme: z.string(), token_ref: z.string() })),
      // true: every private address (an exact host only); a list: the
      // addresses and blocks it names (`10.0.0.5`, `192.168.1.0/24:5432`).
      allow_private: z.union([z.boolean(), z.array(z.string())]),
      // "scan": git pushes over this route are read and scanned by the gate
      // (otherwise refused); optional for plans saved before it existed.
      git_push: z.optional(z.nullable(z.literal("scan"))),
    }),
  ),
  workspace: workspaceSchema,
  image: z.nullable(z.string()),
  resources: resourcesSchema,
  supervise: z.boolean(),
  state_dir: z.string(),
  // Added without a version bump: optional, so a plan saved before it
  // (resume) still reads; buildPlan always sets it.
  door: z.optional(doorPlanSchema),
  // Things the user should know before confirming (e.g. no usable backend
  // during a dry run, a token_ref not set on the host). Also printed on stderr.
  warnings: z.array(z.string()),
});

export type PlanJson = z.output<typeof planJsonSchema>;
