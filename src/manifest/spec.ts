import type { EgressRoute, GitUpstream, Resources } from "./schema.ts";

// The resolved spec, declared here because manifest produces it
// (resolve.ts, env.ts); plan, launch, provision and the backends consume it.

// How an env entry gets its value at launch. Values are resolved only at
// launch time and only kept in memory; the plan carries names and modes.
export type EnvEntry =
  | { name: string; kind: "literal"; value: string }
  | { name: string; kind: "host"; hostVar: string }
  | { name: string; kind: "prompt"; prompt: string };

export type WorkspaceMode = "copy" | "mount" | "none";

// Agent + bottle after `extends`, with the Claude Code defaults merged in.
// Pure data, produced by resolve.ts.
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
