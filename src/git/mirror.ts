import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { git, gitError } from "./exec.ts";
import { mirrorView, parseRefList, syncCommands, UPSTREAM_NS, type MirrorMode } from "./refs.ts";

// The per-bottle bare mirror of one upstream (<state>/git/<name>.git): what
// `git http-backend` serves to the bottle. Effects only; the ref mapping is
// in refs.ts.

export interface MirrorSpec {
  name: string;
  url: string; // upstream URL or host path
  gitDir: string;
  mode: MirrorMode;
}

function shQuote(s: string): string {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

// The pre-receive hook: re-run this program (`claude-bottle hook
// pre-receive`). Its configuration comes from environment variables set by
// the git vhost for each request, never from argv or a file in the mirror.
export function hookScript(command: readonly string[]): string {
  return `#!/bin/sh\n# Installed by claude-bottle: scans pushed content and forwards accepted refs upstream.\nexec ${command.map(shQuote).join(" ")} hook pre-receive\n`;
}

const MIRROR_CONFIG: [string, string][] = [
  // The upstream snapshot lives under refs/upstream/; the bottle never sees
  // or writes it.
  ["transfer.hideRefs", UPSTREAM_NS.replace(/\/$/, "")],
  ["http.receivepack", "true"],
  ["http.uploadpack", "true"],
  ["receive.fsckObjects", "true"],
  // Our hook decides on force and delete (manifest allow_force/allow_delete).
  ["receive.denyNonFastForwards", "false"],
  ["receive.denyDeletes", "false"],
  ["receive.denyDeleteCurrent", "ignore"],
  // Objects the bottle pushed and that were refused stay in quarantine and
  // are dropped; keep the mirror quiet otherwise.
  ["gc.autoDetach", "false"],
  ["core.logAllRefUpdates", "false"],
];

export async function ensureMirror(spec: MirrorSpec, hookCommand: readonly string[], env: Record<string, string>): Promise<void> {
  if (!existsSync(join(spec.gitDir, "HEAD"))) {
    mkdirSync(spec.gitDir, { recursive: true, mode: 0o700 });
    const r = await git(["init", "--quiet", "--bare", "--initial-branch=main", spec.gitDir], { env });
    if (r.code !== 0) throw new Error(`cannot create git mirror for '${spec.name}': ${gitError(r.stderr)}`);
  }
  // The hooks are the mirror's own, whatever a global git config says: a
  // core.hooksPath there (HOME is the user's, and a .gitconfig under it can
  // name any folder) would run another pre-receive hook in place of the
  // scan, with the hook's environment (the DLP values, the upstream token).
  const config: [string, string][] = [...MIRROR_CONFIG, ["core.hooksPath", join(spec.gitDir, "hooks")]];
  for (const [k, v] of config) {
    const r = await git(["config", k, v], { cwd: spec.gitDir, env });
    if (r.code !== 0) throw new Error(`cannot configure git mirror for '${spec.name}': ${gitError(r.stderr)}`);
  }
  // Rewritten every time: the path of this program may have changed since.
  const hook = join(spec.gitDir, "hooks", "pre-receive");
  mkdirSync(join(spec.gitDir, "hooks"), { recursive: true });
  writeFileSync(hook, hookScript(hookCommand));
  chmodSync(hook, 0o755);
}

// Bring the mirror up to date with the upstream. Throws a UserError naming
// the upstream when it cannot be reached: the bottle is never served stale
// data silently.
export async function refreshMirror(
  spec: MirrorSpec,
  env: Record<string, string>,
  secrets: readonly string[] = [],
): Promise<void> {
  const fetch = await git(
    [
      "fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head", "--no-auto-gc",
      spec.url,
      `+refs/heads/*:${UPSTREAM_NS}heads/*`,
      `+refs/tags/*:${UPSTREAM_NS}tags/*`,
    ],
    { cwd: spec.gitDir, env },
  );
  if (fetch.code !== 0) {
    throw new UserError(`git upstream '${spec.name}' is unreachable: ${gitError(fetch.stderr, secrets)}`);
  }
  await syncView(spec, env);
  await syncHead(spec, env, secrets);
}

async function listRefs(spec: MirrorSpec, env: Record<string, string>, ...patterns: string[]): Promise<Map<string, string>> {
  const r = await git(["for-each-ref", "--format=%(objectname) %(refname)", ...patterns], { cwd: spec.gitDir, env });
  if (r.code !== 0) throw new Error(`git for-each-ref failed in mirror '${spec.name}': ${gitError(r.stderr)}`);
  return parseRefList(r.stdout);
}

async function syncView(spec: MirrorSpec, env: Record<string, string>): Promise<void> {
  const tracked = await listRefs(spec, env, UPSTREAM_NS);
  const upstream = new Map<string, string>();
  for (const [ref, oid] of tracked) upstream.set("refs/" + ref.slice(UPSTREAM_NS.length), oid);
  const desired = mirrorView(upstream, spec.mode);
  const current = await listRefs(spec, env, "refs/heads/", "refs/tags/");
  const cmds = syncCommands(current, desired);
  if (cmds.length === 0) return;
  const r = await git(["update-ref", "--stdin"], { cwd: spec.gitDir, env, stdin: cmds.join("\n") + "\n" });
  if (r.code !== 0) throw new Error(`cannot update mirror '${spec.name}': ${gitError(r.stderr)}`);
}

// Point the mirror's HEAD at the upstream's default branch so a clone checks
// out the right branch. Asked once (one more round trip), then remembered.
async function syncHead(spec: MirrorSpec, env: Record<string, string>, secrets: readonly string[]): Promise<void> {
  const known = await git(["config", "--get", "claude-bottle.headsynced"], { cwd: spec.gitDir, env });
  if (known.code === 0) return;
  const r = await git(["ls-remote", "--symref", spec.url, "HEAD"], { cwd: spec.gitDir, env });
  if (r.code !== 0) throw new UserError(`git upstream '${spec.name}' is unreachable: ${gitError(r.stderr, secrets)}`);
  const m = /^ref: (refs\/heads\/\S+)\tHEAD$/m.exec(r.stdout);
  if (m) {
    let target = m[1]!;
    if (spec.mode.kind === "workspace" && target.startsWith("refs/heads/bottle/")) target = "refs/heads/main";
    await git(["symbolic-ref", "HEAD", target], { cwd: spec.gitDir, env });
  }
  await git(["config", "claude-bottle.headsynced", "true"], { cwd: spec.gitDir, env });
}
