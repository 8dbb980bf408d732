import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { BACKEND_NAMES } from "../backends/names.ts";
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
  workspace: z.object({ mode: z.enum(["copy", "mount", "none"]), path: z.string().nullable() }),
  started_at: z.string(),
  // starting: launch in progress; running: agent attached or detached bottle up;
  // exited: agent ended (state kept only when preserved); failed: launch failed.
  status: z.enum(["starting", "running", "exited", "failed"]),
  detached: z.boolean(),
  // The process that owns the bottle's lifetime: `up` (foreground) or the
  // detached supervisor. cleanup treats a bottle with a live owner as live.
  owner_pid: z.number().int().nullable(),
  exit_code: z.number().int().nullable(),
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

export function readMetadata(stateDir: string): Metadata | null {
  let text: string;
  try {
    text = readFileSync(paths.metadata(stateDir), "utf8");
  } catch {
    return null;
  }
  try {
    const r = metadataSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

export function updateMetadata(stateDir: string, patch: Partial<Metadata>): Metadata | null {
  const m = readMetadata(stateDir);
  if (!m) return null;
  const next = { ...m, ...patch };
  writeMetadata(stateDir, next);
  return next;
}
