import * as z from "../zod.ts";

// The workspace of a spec, on its own: state/metadata.ts reads it back on
// every `exec`, `ls` and `down` and in each supervisor, and importing the
// whole manifest schema (spec.ts -> schema.ts) for it cost those processes
// about 9 ms of start-up (zod schema construction and node:net).
export const workspaceModeSchema = z.enum(["copy", "mount", "none"]);
export const workspaceSchema = z.object({ mode: workspaceModeSchema, path: z.nullable(z.string()) });
