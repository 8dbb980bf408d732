import type { ArgDef } from "citty";
import { BACKEND_NAMES } from "../backends/names.ts";

// Argument fragments shared by several commands, one wording each, spread
// into a command's `args` (the nuxt/cli way). A slug's shape is checked in
// one place, state/slug.ts checkSlug, by the code that turns it into a path.

export const slugArgs = {
  slug: { type: "positional", required: true, description: "Bottle slug (see 'claude-bottle ls')" },
} as const satisfies Record<string, ArgDef>;

export const jsonArgs = {
  json: { type: "boolean", description: "Print JSON instead of a table" },
} as const satisfies Record<string, ArgDef>;

export const backendArgs = {
  backend: { type: "string", description: `${BACKEND_NAMES.join(" or ")} (default: CLAUDE_BOTTLE_BACKEND, else auto)` },
} as const satisfies Record<string, ArgDef>;

export const doorArgs = {
  door: { type: "string", description: "The bottle's door to its gate: unix, bridge or auto (default: CLAUDE_BOTTLE_DOOR, else auto from the docker engine)" },
} as const satisfies Record<string, ArgDef>;

export const yesArgs = {
  yes: { type: "boolean", alias: "y", description: "Go ahead without the y/N question" },
} as const satisfies Record<string, ArgDef>;

export const dryRunArgs = {
  "dry-run": { type: "boolean", alias: "n", description: "Show what would be done and stop; changes nothing" },
} as const satisfies Record<string, ArgDef>;

export const detachArgs = {
  detach: { type: "boolean", alias: "d", description: "Start detached; attach later with 'claude-bottle attach <slug>'" },
} as const satisfies Record<string, ArgDef>;

export const requestIdArgs = {
  id: { type: "positional", required: true, description: "Request id (see 'claude-bottle requests')" },
} as const satisfies Record<string, ArgDef>;

// Hidden plumbing commands (gate, supervise-gate) started by `up`.
export const stateArgs = {
  state: { type: "string", required: true, description: "State directory of the bottle" },
} as const satisfies Record<string, ArgDef>;
