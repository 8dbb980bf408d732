import { existsSync } from "node:fs";
import type { Backend } from "../backends/types.ts";
import type { BackendName } from "../backends/names.ts";
import { UserError } from "../errors.ts";
import type { Spec } from "../manifest/spec.ts";
import { isPreserved, markStopping, removeStateDir } from "../state/dirs.ts";
import { readMetadata } from "../state/metadata.ts";
import { paths } from "../state/paths.ts";
import { checkSlug } from "../state/slug.ts";
import { savedSpec } from "./attach.ts";
import type { Backends } from "./backends.ts";
import { inspectAll } from "./inspect.ts";
import { saveWork } from "./save-work.ts";
import { teardownResources } from "./teardown.ts";

// `claude-bottle down <slug>`: the user wants the bottle gone, so it all
// goes: bottle, supervisor, gate, socket and the state dir, even a state
// kept for `resume` (the message says so). Idempotent: a second run, or a
// half-created bottle, is fine.

export interface DownResult {
  slug: string;
  found: boolean;
  removedPreserved: boolean;
}

export async function down(
  home: string,
  slug: string,
  getBackend: (n: BackendName) => Promise<Backend>,
  candidates: () => Promise<BackendName[]>,
  err: (l: string) => void = () => {},
): Promise<DownResult> {
  const stateDir = paths.stateDir(home, slug);
  const hadState = existsSync(stateDir);
  const meta = hadState ? readMetadata(stateDir) : null;
  const preserved = hadState && isPreserved(stateDir);
  // Without metadata we don't know the backend: ask each one that works.
  const names = meta ? [meta.backend] : await candidates();
  let found = hadState;
  for (const n of names) {
    let backend: Backend;
    try {
      backend = await getBackend(n);
    } catch {
      continue; // that backend isn't usable here; it can't hold the bottle
    }
    if (!found && (await backend.attach(slug))) found = true;
    if (meta?.status === "running" && !preserved) await saveBeforeDown(home, stateDir, slug, backend, err);
    await teardownResources(stateDir, slug, backend);
  }
  if (names.length === 0) await teardownResources(stateDir, slug, null);
  removeStateDir(stateDir);
  return { slug, found, removedPreserved: preserved };
}

// A running bottle's work that is not on the host is saved before it goes
// (save-work.ts). Marked stopping first, so that the session attached to it
// (if any) leaves the saving to us when its agent ends.
async function saveBeforeDown(home: string, stateDir: string, slug: string, backend: Backend, err: (l: string) => void): Promise<void> {
  let spec: Spec;
  try {
    spec = await savedSpec(stateDir);
  } catch {
    return; // a bottle half-created: nothing was copied in
  }
  if (spec.workspace.mode !== "copy") return;
  markStopping(stateDir);
  await saveWork(backend.handle(slug), { home, slug, stateDir, spec, err });
}

// The command: one slug or --all, a line per bottle on stderr.
export async function downCommand(
  home: string,
  target: { slug?: string; all?: boolean },
  backends: Backends,
  err: (l: string) => void,
): Promise<number> {
  let slugs: string[];
  if (target.all) slugs = inspectAll(home).map((s) => s.slug);
  else if (target.slug) slugs = [checkSlug(target.slug)];
  else throw new UserError("say which bottle: 'claude-bottle down <slug>', or --all", 2);
  if (slugs.length === 0) {
    err("claude-bottle: no bottles");
    return 0;
  }
  // Probed only for a slug without metadata (which backend holds it?).
  let probed: Promise<BackendName[]> | null = null;
  const candidates = () => (probed ??= backends.usable().then((u) => u.map((b) => b.name)));
  for (const slug of slugs) {
    const r = await down(home, slug, (n) => backends.get(n), candidates, err);
    if (!r.found) err(`claude-bottle: ${slug}: nothing to stop (already gone)`);
    else err(`claude-bottle: ${slug}: stopped and removed, state deleted${r.removedPreserved ? " (it was kept for resume)" : ""}`);
  }
  return 0;
}
