import { accessEnv, TOKEN_ENV } from "./access.ts";
import { git, gitError } from "./exec.ts";
import { gitleaksPath, runGitleaks } from "./gitleaks.ts";
import { readHookConfig, type HookDlp } from "./hook-config.ts";
import { pushUpstream, type UpstreamUpdate } from "./push.ts";
import { destinationRef, trackingRef } from "./refs.ts";
import { evaluateUpdate, isZeroOid, type RefUpdate } from "./rules.ts";
import type { GitScanners } from "../gate/gitpush/objects.ts";
import { scanObjects } from "./scan-objects.ts";
import { scanPush, type PushFinding } from "./scan.ts";

// `claude-bottle hook pre-receive`, run by receive-pack in a bottle's mirror
// for every push. In order, and stopping at the first refusal:
//   1. ref rules (allowed branches, force, delete) — cheap, no content read;
//   2. the gate's DLP rules over the pushed ref names, every object the
//      push brings (commit headers, tags, file names, binary files:
//      scan-objects.ts) and every added line and commit message (scan.ts);
//   3. gitleaks over the same commits, when it is installed;
//   4. forward the accepted updates to the real upstream, atomically.
// Only if all of that succeeds does receive-pack update the mirror, so the
// bottle's view never runs ahead of the upstream. Messages go to stderr,
// which git shows the pusher as "remote: ...": they name the rule, file and
// commit, never the matched text.
//
// Every refusal is also a deny line in the bottle's audit (layer git): git
// smart HTTP answers a refused push with 200 and the refusal inside the
// report, so the gate's own audit line for the request says "allow". The
// audit reason names the rule and the commit only: file names, ref names and
// the upstream's words are the pusher's (or the upstream's) text, and a
// secret can hide in any of them.

export interface PreReceiveIo {
  stdin: string;
  env: Record<string, string | undefined>;
  gitDir: string;
  say: (line: string) => void;
  // One secret-free line per refusal, for the audit (see hook-audit.ts).
  deny: (reason: string) => void;
  // Builds the content scanners (one per file, message, header) from the
  // DLP config.
  scanners: (dlp: HookDlp) => GitScanners;
}

export function parseUpdates(stdin: string): RefUpdate[] {
  const out: RefUpdate[] = [];
  for (const line of stdin.split("\n")) {
    const f = line.trim().split(" ");
    if (f.length !== 3) continue;
    out.push({ oldOid: f[0]!, newOid: f[1]!, ref: f[2]! });
  }
  return out;
}

export function findingMessage(f: PushFinding): string {
  const object = `${f.object ?? "commit"} ${f.commit.slice(0, 12)}`;
  const where = f.part !== undefined ? `${f.part} of ${object}` : `${f.file === null ? "the commit message" : `file ${f.file}`} (${object})`;
  const fix = f.object === "tag" ? "Delete the tag (git tag -d) and tag again" : "Remove it from the history (git commit --amend / git rebase -i)";
  return `push rejected by the secret scan: rule ${f.rule} matched in ${where}. ${fix} and push again; nothing was sent upstream.`;
}

export function findingAudit(f: PushFinding): string {
  const part = f.part ?? (f.file === null ? "a commit message" : "a file");
  return `push refused by the secret scan: rule ${f.rule} in ${part} of ${f.object ?? "commit"} ${f.commit.slice(0, 12)}`;
}

function stringEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

export async function preReceive(io: PreReceiveIo): Promise<number> {
  const say = (m: string) => io.say(`claude-bottle: ${m}`);
  const { config, dlp } = readHookConfig(io.env);
  const name = config.access.name;
  // The hook's own environment carries receive-pack's quarantine
  // (GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES): every git child
  // must inherit it to see the pushed objects.
  const env = stringEnv(io.env);
  const updates = parseUpdates(io.stdin);
  if (updates.length === 0) return 0;

  // 1. Rules.
  const accepted: { u: RefUpdate; force: boolean }[] = [];
  const refusals: string[] = [];
  for (const u of updates) {
    let ff: boolean | null = null;
    if (!isZeroOid(u.oldOid) && !isZeroOid(u.newOid) && u.ref.startsWith("refs/heads/")) {
      const r = await git(["merge-base", "--is-ancestor", u.oldOid, u.newOid], { cwd: io.gitDir, env });
      if (r.code > 1) throw new Error(`git merge-base failed: ${gitError(r.stderr)}`);
      ff = r.code === 0;
    }
    const v = evaluateUpdate(u, ff, config.rules, name);
    if (!v.ok) refusals.push(v.reason);
    else accepted.push({ u, force: v.kind === "force" || v.kind === "delete" });
  }
  if (refusals.length > 0) {
    for (const r of refusals) say(`push rejected: ${r}`);
    io.deny(`push refused by the ref rules of '${name}' (${refusals.length} ref${refusals.length === 1 ? "" : "s"})`);
    return 1;
  }

  // 2. DLP over everything new: the ref names (they go upstream as they
  // are), the objects (headers, tags, names, binary files), so that a file
  // named in a later finding scanned clean, then the added lines and
  // messages.
  const scanners = io.scanners(dlp);
  for (const u of updates) {
    const s = scanners.plain();
    const f = s.push(new TextEncoder().encode(u.ref)) ?? s.end();
    if (f) {
      say(`push rejected by the secret scan: rule ${f.rule} matched in the ref name of a pushed ref. Push it under another name; nothing was sent upstream.`);
      io.deny(`push refused by the secret scan: rule ${f.rule} in a ref name`);
      return 1;
    }
  }
  const newOids = [...new Set(updates.map((u) => u.newOid).filter((o) => !isZeroOid(o)))];
  // The scan reads the push the same whatever the user's git config says
  // (log.showRoot=false drops a root commit's diff; diff.noprefix changes
  // the headers): only the mirror's own config. The upstream push below
  // keeps the user's (its proxy, its CA).
  const scanEnv = { ...env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };
  const finding =
    (await scanObjects({ gitDir: io.gitDir, env: scanEnv, newOids, scanners })) ??
    (await scanPush({ gitDir: io.gitDir, env: scanEnv, newOids, scanner: scanners.plain }));
  if (finding) {
    say(findingMessage(finding));
    io.deny(findingAudit(finding));
    return 1;
  }

  // 3. gitleaks, when installed.
  const leaks = gitleaksPath(env.PATH);
  if (leaks) {
    const r = await runGitleaks({ bin: leaks, gitDir: io.gitDir, env: scanEnv, newOids });
    if (!r.ok) {
      // Fail closed: a scanner that could not look is not a clean result.
      say(`push rejected: ${r.error}. Nothing was sent upstream; fix gitleaks or take it off the gate's PATH, then push again.`);
      io.deny("push refused: gitleaks could not scan it");
      return 1;
    }
    if (r.findings.length > 0) {
      for (const f of r.findings.slice(0, 5)) say(findingMessage(f));
      io.deny(`gitleaks: ${findingAudit(r.findings[0]!)}`);
      return 1;
    }
  }

  // 4. Forward upstream.
  const forward: UpstreamUpdate[] = [];
  for (const { u, force } of accepted) {
    const dst = destinationRef(u.ref, config.mode);
    let expectOld = "";
    const r = await git(["rev-parse", "--verify", "--quiet", trackingRef(dst)], { cwd: io.gitDir, env });
    if (r.code === 0) expectOld = r.stdout.trim();
    if (isZeroOid(u.newOid) && !expectOld) {
      say(`push rejected: ${u.ref}: there is no ${dst} on '${name}' to delete`);
      io.deny(`push refused: a deleted ref does not exist on '${name}'`);
      return 1;
    }
    forward.push({ dst, newOid: u.newOid, force, expectOld });
  }
  const token = io.env[TOKEN_ENV];
  const pushEnv = { ...env, ...accessEnv(config.access, token) };
  // Our push reads the quarantined objects (GIT_OBJECT_DIRECTORY and
  // GIT_ALTERNATE_OBJECT_DIRECTORIES, which git does not pass to a local
  // remote). GIT_QUARANTINE_PATH only forbids ref updates, and git *does*
  // pass it on: a local upstream's receive-pack would refuse every update.
  delete pushEnv.GIT_QUARANTINE_PATH;
  const res = await pushUpstream({
    gitDir: io.gitDir,
    url: config.access.url,
    env: pushEnv,
    updates: forward,
    secrets: token ? [token] : [],
  });
  if (!res.ok) {
    say(`push rejected: upstream '${name}' refused it: ${res.message}`);
    io.deny(`push refused by upstream '${name}'`);
    return 1;
  }
  for (const f of forward) {
    say(`forwarded to '${name}': ${isZeroOid(f.newOid) ? "deleted " + f.dst : f.dst + " -> " + f.newOid.slice(0, 12)}`);
  }
  return 0;
}
