import { git, gitError } from "./exec.ts";
import { isZeroOid } from "./rules.ts";

// Forward accepted ref updates to the real upstream, from inside the
// pre-receive hook (the pushed objects are still in receive-pack's
// quarantine, which git's environment variables make visible to this push).
// Pure part: the argument list. Effect: one `git push`.

export interface UpstreamUpdate {
  dst: string; // full ref name on the upstream
  newOid: string; // zero oid = delete
  force: boolean; // non-fast-forward or delete, already allowed by the rules
  // For forced updates: what the mirror last saw on the upstream for dst
  // ("" = absent). The push fails instead of clobbering work that appeared
  // upstream since the last refresh.
  expectOld: string;
}

export function pushArgs(url: string, updates: readonly UpstreamUpdate[]): string[] {
  const args = ["push", "--porcelain", "--no-verify", "--no-follow-tags", "--no-recurse-submodules"];
  // All or nothing: a partly forwarded push would leave the mirror (updated
  // only when the hook succeeds) out of step with the upstream.
  if (updates.length > 1) args.push("--atomic");
  for (const u of updates) {
    if (u.force) args.push(`--force-with-lease=${u.dst}:${u.expectOld}`);
  }
  args.push(url);
  for (const u of updates) args.push(isZeroOid(u.newOid) ? `:${u.dst}` : `${u.newOid}:${u.dst}`);
  return args;
}

export async function pushUpstream(opts: {
  gitDir: string;
  url: string;
  env: Record<string, string>;
  updates: readonly UpstreamUpdate[];
  secrets?: readonly string[];
}): Promise<{ ok: true } | { ok: false; message: string }> {
  if (opts.updates.length === 0) return { ok: true };
  const r = await git(pushArgs(opts.url, opts.updates), { cwd: opts.gitDir, env: opts.env });
  if (r.code === 0) return { ok: true };
  // --porcelain puts per-ref status on stdout: "!\t<src>:<dst>\t[rejected] (why)".
  const rejected = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("!"))
    .map((l) => l.split("\t").slice(1).join(" "));
  const detail = rejected.length > 0 ? rejected.join("; ") : gitError(r.stderr, opts.secrets ?? []);
  return { ok: false, message: detail };
}
