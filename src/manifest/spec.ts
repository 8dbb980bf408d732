import * as z from "../zod.ts";
import { egressRouteSchema, gitUpstreamSchema, resourcesSchema } from "./schema.ts";
import { workspaceModeSchema, workspaceSchema } from "./workspace.ts";

// The resolved spec, declared here because manifest produces it
// (resolve.ts, env.ts); plan, launch, provision and the backends consume it.
// The schema is what a saved spec.json is read back through (`attach`,
// `resume`); the types are derived from it.

// How an env entry gets its value at launch. Values are resolved only at
// launch time and only kept in memory; the plan carries names and modes.
export const envEntrySchema = z.discriminatedUnion("kind", [
  z.object({ name: z.string(), kind: z.literal("literal"), value: z.string() }),
  z.object({ name: z.string(), kind: z.literal("host"), hostVar: z.string() }),
  z.object({ name: z.string(), kind: z.literal("prompt"), prompt: z.string() }),
]);

export { workspaceModeSchema, workspaceSchema } from "./workspace.ts";

// Agent + bottle after `extends`, with the Claude Code defaults merged in.
// Pure data, produced by resolve.ts.
export const specSchema = z.object({
  agent: z.string(),
  bottle: z.string(),
  sources: z.object({ agent: z.string(), bottle: z.string() }), // file paths or "<embedded>"
  prompt: z.string(), // the agent's system prompt (markdown body)
  env: z.array(envEntrySchema),
  egress: z.array(egressRouteSchema),
  git: z.array(gitUpstreamSchema),
  skills: z.array(z.string()),
  image: z.optional(z.string()),
  resources: resourcesSchema,
  supervise: z.boolean(),
  workspace: workspaceSchema,
});

export type EnvEntry = z.output<typeof envEntrySchema>;
export type WorkspaceMode = z.output<typeof workspaceModeSchema>;
export type Spec = z.output<typeof specSchema>;
