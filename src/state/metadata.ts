import { renameSync, writeFileSync } from "node:fs";
import * as z from "../zod.ts";
import { BACKEND_NAMES } from "../backends/names.ts";
import { workspaceSchema } from "../manifest/workspace.ts";
import { UserError } from "../errors.ts";
import { readJsonFile } from "./json.ts";
import { paths } from "./paths.ts";

// <state>/metadata.json: what `ls`, `attach`, `down`, `cleanup` and `resume`
// need to find a bottle again. Names and modes only: no env value, no
// credential, no placeholder ever lands here (the gate gets those on stdin).
export const metadataSchema = z.object({
  version: z.literal(1),
  slug: z.string(),
  agent: z.string(),
  bottle: z.string(),
  backend: z.enum(BACKEND_NAMES),
  cwd: z.string(),
  workspace: workspaceSchema,
  started_at: z.string(),
  // starting: launch in progress; running: agent attached or detached bottle up;
  // exited: agent ended (state kept only when preserved); failed: launch failed.
  status: z.enum(["starting", "running", "exited", "failed"]),
  detached: z.boolean(),
  // The process that owns the bottle's lifetime: `up` (foreground) or the
  // detached supervisor. cleanup treats a bottle with a live owner as live.
  owner_pid: z.nullable(z.int()),
  exit_code: z.nullable(z.int()),
});

export type Metadata = z.infer<typeof metadataSchema>;

// Atomic write (temp + rename) so a reader never sees half a file, even when
// `up` is killed mid-write.
export function writeMetadata(stateDir: string, m: Metadata): void {
  const file = paths.metadata(stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(metadataSchema.parse(m), null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, file);
}

// Lenient, for listing and cleanup: a missing or damaged file is "no metadata".
export function readMetadata(stateDir: string): Metadata | null {
  const r = readJsonFile(paths.metadata(stateDir), metadataSchema);
  return r.ok ? r.value : null;
}

// For a command acting on one bottle: missing is "no bottle", damaged is
// said as such (not "no bottle"), with the way out.
export function requireMetadata(stateDir: string, slug: string, missing = `no bottle ${slug}; 'claude-bottle ls' lists bottles`): Metadata {
  const r = readJsonFile(paths.metadata(stateDir), metadataSchema);
  if (r.ok) return r.value;
  if (r.missing) throw new UserError(missing);
  throw new UserError(`${paths.metadata(stateDir)} ${r.reason}; remove the bottle with 'claude-bottle down ${slug}'`);
}

export function updateMetadata(stateDir: string, patch: Partial<Metadata>): Metadata | null {
  const m = readMetadata(stateDir);
  if (!m) return null;
  const next = { ...m, ...patch };
  writeMetadata(stateDir, next);
  return next;
}
