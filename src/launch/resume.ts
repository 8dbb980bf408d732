import type * as z from "../zod.ts";
import { UserError } from "../errors.ts";
import { specSchema, type Spec } from "../manifest/spec.ts";
import { planJsonSchema, type PlanJson } from "../plan/types.ts";
import { isPreserved } from "../state/dirs.ts";
import { readJsonFile } from "../state/json.ts";
import { requireMetadata, type Metadata } from "../state/metadata.ts";
import { paths } from "../state/paths.ts";
import { checkSlug } from "../state/slug.ts";

// What `resume <slug>` relaunches: the spec and plan saved at the first
// launch (names and non-secret literals only), with the same slug, CA and
// placeholders. Secret env values are asked for / copied again.
export function loadResumable(home: string, slug: string): { meta: Metadata; spec: Spec; plan: PlanJson; stateDir: string } {
  const stateDir = paths.stateDir(home, checkSlug(slug));
  const meta = requireMetadata(stateDir, slug, `no state for bottle ${slug}; 'claude-bottle ls' lists bottles`);
  if (!isPreserved(stateDir)) {
    throw new UserError(`bottle ${slug} has nothing to resume (status ${meta.status}); only a session whose agent exited non-zero keeps its state`);
  }
  const load = <T>(file: string, schema: z.ZodMiniType<T>): T => {
    const r = readJsonFile(file, schema);
    if (r.ok) return r.value;
    throw new UserError(`state of ${slug} is incomplete: ${file} ${r.missing ? "is missing" : r.reason}; remove it with 'claude-bottle down ${slug}'`);
  };
  return { meta, spec: load(paths.spec(stateDir), specSchema), plan: load(paths.plan(stateDir), planJsonSchema), stateDir };
}
