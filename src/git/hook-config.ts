import * as z from "../zod.ts";
import type { PushRules } from "./rules.ts";
import type { MirrorMode } from "./refs.ts";
import type { UpstreamAccess } from "./access.ts";

// What the git vhost tells the pre-receive hook, through environment
// variables of the `git http-backend` child (inherited by receive-pack and
// the hook): never argv, never a file in the mirror.
//   CLAUDE_BOTTLE_GIT_HOOK  JSON HookConfig (no secret)
//   CLAUDE_BOTTLE_GIT_DLP   JSON {secrets, placeholders} for the DLP rules
//   CLAUDE_BOTTLE_GIT_TOKEN the upstream token, when token_ref is set
export const HOOK_CONFIG_ENV = "CLAUDE_BOTTLE_GIT_HOOK";
export const HOOK_DLP_ENV = "CLAUDE_BOTTLE_GIT_DLP";

const modeSchema = z.union([
  z.object({ kind: z.literal("remote") }),
  z.object({ kind: z.literal("workspace"), slug: z.string().check(z.minLength(1)) }),
]);

export const hookConfigSchema = z.object({
  access: z.object({
    name: z.string(),
    url: z.string(),
    knownHostsFile: z.optional(z.string()),
    identityFile: z.optional(z.string()),
    tokenRef: z.optional(z.string()),
  }),
  mode: modeSchema,
  rules: z.object({
    branches: z.optional(z.array(z.string())),
    allow_force: z.boolean(),
    allow_delete: z.boolean(),
    workspace: z.boolean(),
  }),
  // Where the hook writes its deny lines: the bottle's audit.jsonl.
  audit: z.optional(z.object({ file: z.string(), bottle: z.string() })),
});

export interface HookConfig {
  access: UpstreamAccess;
  mode: MirrorMode;
  rules: PushRules;
  audit?: { file: string; bottle: string };
}

// Same shape as compileDlp's input (src/gate/dlp): named values.
const named = z.array(z.object({ name: z.string(), value: z.string() }));
export const hookDlpSchema = z.object({ secrets: named, placeholders: named });
export type HookDlp = z.output<typeof hookDlpSchema>;

export function readHookConfig(env: Record<string, string | undefined>): { config: HookConfig; dlp: HookDlp } {
  const raw = env[HOOK_CONFIG_ENV];
  if (!raw) throw new Error(`${HOOK_CONFIG_ENV} is not set: this hook only runs under the claude-bottle git gate`);
  const config = hookConfigSchema.parse(JSON.parse(raw)) as HookConfig;
  const dlp = hookDlpSchema.parse(JSON.parse(env[HOOK_DLP_ENV] ?? '{"secrets":[],"placeholders":[]}'));
  return { config, dlp };
}
