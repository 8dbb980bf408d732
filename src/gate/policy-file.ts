import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { z } from "zod";
import { egressRouteSchema, gitUpstreamSchema } from "../manifest/schema.ts";
import { UserError } from "../errors.ts";
import { paths } from "../state/paths.ts";
import type { GatePolicy } from "./types.ts";

// <state>/policy.json: read by the gate at start and on SIGHUP, edited by
// `allow`/`deny`. Validated on every read: a hand-edited file with a typo
// must not silently allow (or deny) something else.

// Loose: fields other modules add to the policy (git_workspace, ...) survive
// an allow/deny round trip; the fields the gate itself relies on are checked.
export const gatePolicySchema = z.looseObject({
  version: z.literal(1),
  slug: z.string().min(1),
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

// Temp file + rename: a gate reloading at the same moment reads the old or
// the new policy, never half of one.
export function writePolicy(stateDir: string, policy: GatePolicy): void {
  const p = paths.policy(stateDir);
  const tmp = `${p}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, JSON.stringify(policy, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, p);
}
