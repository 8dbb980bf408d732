import { readFileSync } from "node:fs";
import * as z from "../../zod.ts";
import { egressRouteSchema, gitUpstreamSchema } from "../../manifest/schema.ts";
import { UserError } from "../../errors.ts";
import { paths } from "../../state/paths.ts";
import type { GatePolicy } from "../types.ts";

// <state>/policy.json as the gate reads it, at start and on SIGHUP. The
// gate owns the format (GatePolicy); the operator side that writes and
// edits it lives in src/policy/. Validated on every read: a hand-edited
// file with a typo must not silently allow (or deny) something else.

// Loose: fields other modules add to the policy (git_workspace, ...) survive
// an allow/deny round trip; the fields the gate itself relies on are checked.
export const gatePolicySchema = z.looseObject({
  version: z.literal(1),
  slug: z.string().check(z.minLength(1)),
  routes: z.array(egressRouteSchema),
  git: z.array(gitUpstreamSchema),
  supervise: z.boolean(),
  placeholders: z.record(z.string(), z.string()),
});

export function parsePolicy(text: string, where: string): GatePolicy {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${where} is not valid JSON (${(e as Error).message}); fix or recreate it with 'claude-bottle up'`);
  }
  const r = gatePolicySchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new UserError(`${where}: ${i.path.join(".") || "(top)"}: ${i.message}`);
  }
  return r.data as GatePolicy;
}

export function readPolicy(stateDir: string): GatePolicy {
  const p = paths.policy(stateDir);
  let text: string;
  try {
    text = readFileSync(p, "utf8");
  } catch {
    throw new UserError(`cannot read ${p}; is this a bottle's state directory?`);
  }
  return parsePolicy(text, p);
}
