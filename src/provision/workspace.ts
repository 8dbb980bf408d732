import { existsSync, lstatSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bottle } from "../backends/types.ts";
import { UserError } from "../errors.ts";
import type { WorkspaceMode } from "../manifest/spec.ts";
import { gateRepoUrl, WORKSPACE_UPSTREAM } from "../git/gitconfig.ts";
import { lastLine } from "./lines.ts";
import { hasGitFile, standaloneGit } from "./standalone-git.ts";
import { GUEST_USER, GUEST_WORKSPACE } from "../backends/guest.ts";

// The workspace in `copy` mode, for every backend: the repository's work
// tree (tracked files plus untracked ones that are not ignored) and its whole
// .git, streamed as tar into /workspace and unpacked there as `node` (owner
// node, modes kept, no capability needed). Ignored files (build output, .env
// files holding secrets) stay on the host.

// Pure: the NUL-separated file list for tar from `git ls-files -z` output;
// tracked files deleted in the work tree are skipped.
// Without `.git` when the repository goes in as a standalone copy
// (standalone-git.ts: a worktree or submodule, whose .git is a file).
export function copyList(lsFilesZ: string, exists: (rel: string) => boolean, withGit = true): string {
  const files = lsFilesZ.split("\0").filter((f) => f.length > 0 && exists(f));
  return [...(withGit ? [".git"] : []), ...new Set(files)].join("\0") + "\0";
}

async function gitFiles(dir: string): Promise<string | null> {
  const p = Bun.spawn(["git", "-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return code === 0 ? out : null;
}

export async function copyWorkspace(bottle: Bottle, dir: string, progress: (s: string) => void): Promise<void> {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new UserError(`workspace ${dir} is not a directory; run from your project or use workspace: none`);
  progress("copying the workspace into the bottle");
  const listing = existsSync(join(dir, ".git")) ? await gitFiles(dir) : null;
  // A worktree or a submodule: its .git is a file pointing elsewhere on the
  // host; a standalone repository goes in instead.
  const standalone = listing !== null && hasGitFile(dir) ? await standaloneGit(dir, join(tmpdir(), "claude-bottle-git")) : null;
  try {
    let list: string | undefined;
    if (listing !== null) {
      list = copyList(
        listing,
        (rel) => {
          try {
            lstatSync(join(dir, rel));
            return true;
          } catch {
            return false;
          }
        },
        standalone === null,
      );
    }
    await streamCopy(bottle, dir, list, standalone?.root ?? null);
  } finally {
    standalone?.cleanup();
  }
}

async function streamCopy(bottle: Bottle, dir: string, list: string | undefined, gitRoot: string | null): Promise<void> {
  // Not a git repository: the directory as it is.
  const tarArgv =
    list === undefined
      ? ["tar", "-C", dir, "-cf", "-", "."]
      : ["tar", "-cf", "-", ...(gitRoot ? ["-C", gitRoot, ".git"] : []), "-C", dir, "--null", "-T", "-"];
  // The host tar's stdout goes straight to `tar -x` in the bottle: nothing
  // holds the whole tree in memory, whatever the repository's size.
  const tar = Bun.spawn(tarArgv, { stdin: list === undefined ? "ignore" : new Blob([list]), stdout: "pipe", stderr: "pipe" });
  const [tarErr, tarCode, r] = await Promise.all([
    new Response(tar.stderr).text(),
    tar.exited,
    bottle.run(workspaceStepArgv(), { user: GUEST_USER, input: tar.stdout }),
  ]);
  if (tarCode !== 0) throw new UserError(`could not copy the workspace ${dir}: host tar failed: ${lastLine(tarErr) ?? `exit ${tarCode}`}`);
  if (r.code !== 0) throw new UserError(`could not unpack the workspace ${dir} in the bottle, or point its origin at the gate: ${lastLine(r.stderr) ?? `exit ${r.code}`}`);
}

// The copy's `origin` points at the host repository THROUGH THE GATE
// (git.bottle.internal serves it as the upstream `workspace`), so `git push
// origin <branch>` from the agent lands as refs/heads/bottle/<slug>/<branch>
// in the host repository, after the gate's hook has scanned it; the host's
// own origin URL (and any credentials it implies) never matters inside.
//
// Only for `copy`: in `mount` mode the bottle works in the host repository
// itself (its .git/config is mounted read-only), so the work is already on
// the host and origin stays the user's. `none` has no repository.
//
// Pure: the argv to run as the agent in /workspace, or null. It does nothing
// when the copy has no .git (the workspace was not a repository). A
// pushurl would win over the new url on push, so it goes too.
const ORIGIN = [
  'cd "$2"',
  "[ -e .git ] || exit 0",
  'if git remote get-url origin >/dev/null 2>&1; then git remote set-url origin "$1"; else git remote add origin "$1"; fi',
  "if git config --local --get-all remote.origin.pushurl >/dev/null; then git config --local --unset-all remote.origin.pushurl; fi",
];

export function originRewriteArgv(mode: WorkspaceMode, url: string = gateRepoUrl(WORKSPACE_UPSTREAM), dir: string = GUEST_WORKSPACE): string[] | null {
  if (mode !== "copy") return null;
  return ["sh", "-c", ["set -e", ...ORIGIN].join("\n"), "sh", url, dir];
}

// The copy's one exec: unpack the tar from stdin, then the origin rewrite
// above (same arguments), so a copy costs a single round trip.
export function workspaceStepArgv(url: string = gateRepoUrl(WORKSPACE_UPSTREAM), dir: string = GUEST_WORKSPACE): string[] {
  return ["sh", "-c", ["set -e", 'mkdir -p "$2"', 'tar -xf - -C "$2"', ...ORIGIN].join("\n"), "sh", url, dir];
}
