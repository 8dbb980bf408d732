import { branchMatches } from "./glob.ts";

// The pure half of the pre-receive hook: may this ref update go upstream?
// Facts that need git (is the update a fast-forward?) are computed by the
// caller and passed in, so every rule is testable without a repository.

export interface RefUpdate {
  oldOid: string;
  newOid: string;
  ref: string; // full name as pushed by the bottle, e.g. refs/heads/main
}

export type UpdateKind = "create" | "delete" | "fast-forward" | "force";

export interface PushRules {
  // Manifest GitUpstream.branches: when set, only matching branches (and no
  // tags) may be pushed.
  branches?: readonly string[];
  allow_force: boolean;
  allow_delete: boolean;
  // The implicit `workspace` upstream (the host repository) takes branches
  // only: they land under refs/heads/bottle/<slug>/.
  workspace: boolean;
}

export type Verdict = { ok: true; kind: UpdateKind } | { ok: false; reason: string };

export function isZeroOid(oid: string): boolean {
  return /^0+$/.test(oid);
}

export function updateKind(u: RefUpdate, fastForward: boolean | null): UpdateKind {
  if (isZeroOid(u.oldOid)) return "create";
  if (isZeroOid(u.newOid)) return "delete";
  // Moving an existing tag is never a fast-forward: tags are meant to stay.
  if (u.ref.startsWith("refs/tags/")) return "force";
  return fastForward ? "fast-forward" : "force";
}

export function evaluateUpdate(u: RefUpdate, fastForward: boolean | null, rules: PushRules, upstreamName: string): Verdict {
  const isBranch = u.ref.startsWith("refs/heads/");
  const isTag = u.ref.startsWith("refs/tags/");
  if (!isBranch && !isTag) {
    return { ok: false, reason: `${u.ref}: only branches and tags can be pushed to '${upstreamName}'` };
  }
  if (isTag && rules.workspace) {
    return { ok: false, reason: `${u.ref}: only branches can be pushed to the workspace (they land under bottle/<slug>/)` };
  }
  if (isTag && rules.branches) {
    return { ok: false, reason: `${u.ref}: '${upstreamName}' only accepts the branches ${rules.branches.join(", ")}` };
  }
  if (isBranch && rules.branches) {
    const branch = u.ref.slice("refs/heads/".length);
    if (!branchMatches(rules.branches, branch)) {
      return {
        ok: false,
        reason: `branch '${branch}' is not allowed for '${upstreamName}' (allowed: ${rules.branches.join(", ")})`,
      };
    }
  }
  const kind = updateKind(u, fastForward);
  if (kind === "delete" && !rules.allow_delete) {
    return { ok: false, reason: `${u.ref}: deleting refs on '${upstreamName}' is not allowed (allow_delete: false)` };
  }
  if (kind === "force" && !rules.allow_force) {
    return {
      ok: false,
      reason: `${u.ref}: non-fast-forward update on '${upstreamName}' is not allowed (allow_force: false); pull and rebase or merge first`,
    };
  }
  return { ok: true, kind };
}
