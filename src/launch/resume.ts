import { readFileSync } from "node:fs";
import { UserError } from "../errors.ts";
import type { PlanJson } from "../plan/types.ts";
import type { Spec } from "../manifest/spec.ts";
import { isPreserved } from "../state/dirs.ts";
import { readMetadata, type Metadata } from "../state/metadata.ts";
import { paths } from "../state/paths.ts";
import { checkSlug } from "../state/slug.ts";

// What `resume <slug>` relaunches: the spec and plan saved at the first
// launch (names and non-secret literals only), with the same slug, CA and
// placeholders. Secret env values are asked for / copied again.
export function loadResumable(home: string, slug: string): { meta: Metadata; spec: Spec; plan: PlanJson; stateDir: string } {
  checkSlug(slug);
  const stateDir = paths.stateDir(home, slug);
  const meta = readMetadata(stateDir);
  if (!meta) throw new UserError(`no state for bottle ${slug}; 'claude-bottle ls' lists bottles`);
  if (!isPreserved(stateDir)) {
    throw new UserError(`bottle ${slug} has nothing to resume (status ${meta.status}); only a session whose agent exited non-zero keeps its state`);
  }
  try {
    const spec = JSON.parse(readFileSync(paths.spec(stateDir), "utf8")) as Spec;
    const plan = JSON.parse(readFileSync(paths.plan(stateDir), "utf8")) as PlanJson;
    return { meta, spec, plan, stateDir };
  } catch {
    throw new UserError(`state of ${slug} is incomplete (spec.json/plan.json); remove it with 'claude-bottle down ${slug}'`);
  }
}
