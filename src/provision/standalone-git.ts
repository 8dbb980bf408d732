import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { lastLine } from "./lines.ts";

// A linked worktree (`git worktree add`) and a submodule checkout have a
// `.git` FILE ("gitdir: <path>") instead of a directory; the path points
// into another repository's .git on the host, which the bottle does not
// have. Copied as it is, the workspace would not be a repository at all.
//
// So for such a workspace a standalone .git is assembled on the host, in a
// private temporary directory, and copied in its place: the common
// directory's objects, refs, config and the rest (objects hard-linked when
// the file system allows, else copied), then this checkout's own HEAD,
// index and logs on top, and the config's core.worktree (a submodule's path
// back to its work tree) removed. Everything else of the host repository
// (other worktrees' state) stays out.

// dir null: no repository around (for `git config --file`, which must not
// discover the half-built one and chdir to its core.worktree).
async function git(dir: string | null, args: string[]): Promise<string> {
  const p = Bun.spawn(["git", ...(dir ? ["-C", dir] : []), ...args], { cwd: dir ?? "/", stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new UserError(`git ${args[0]} failed${dir ? ` in ${dir}` : ""}: ${lastLine(err) ?? `exit ${code}`}`);
  return out.trim();
}

// Pure: what of a git dir belongs to one checkout and not to the repository.
// Skipped from the common dir: other worktrees' state.
export const COMMON_SKIP = new Set(["worktrees"]);
// Skipped from a worktree's own git dir: its pointers back to the host.
export const PRIVATE_SKIP = new Set(["commondir", "gitdir"]);

export function hasGitFile(dir: string): boolean {
  try {
    return lstatSync(join(dir, ".git")).isFile();
  } catch {
    return false;
  }
}

function copyEntry(from: string, to: string, link: boolean): void {
  if (link) {
    // Objects never change once written: hard links are safe and cost no
    // space. A different file system (EXDEV) falls back to a copy.
    const p = Bun.spawnSync(["cp", "-al", from, to], { stdout: "ignore", stderr: "ignore" });
    if (p.exitCode === 0) return;
    rmSync(to, { recursive: true, force: true });
  }
  cpSync(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
}

export interface StandaloneGit {
  // Directory holding `.git`: tar it from here.
  root: string;
  cleanup(): void;
}

export async function standaloneGit(dir: string, tmpRoot: string): Promise<StandaloneGit> {
  const gitDir = await git(dir, ["rev-parse", "--absolute-git-dir"]);
  const commonDir = await git(dir, ["rev-parse", "--path-format=absolute", "--git-common-dir"]);
  mkdirSync(tmpRoot, { recursive: true, mode: 0o700 });
  const root = mkdtempSync(join(tmpRoot, "git-"));
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  try {
    const dest = join(root, ".git");
    mkdirSync(dest);
    for (const name of readdirSync(commonDir)) {
      if (COMMON_SKIP.has(name)) continue;
      copyEntry(join(commonDir, name), join(dest, name), name === "objects");
    }
    if (gitDir !== commonDir) {
      for (const name of readdirSync(gitDir)) {
        if (PRIVATE_SKIP.has(name)) continue;
        const to = join(dest, name);
        rmSync(to, { recursive: true, force: true });
        copyEntry(join(gitDir, name), to, false);
      }
    }
    const cfg = join(dest, "config");
    // A submodule's git dir names its work tree (core.worktree); the copy's
    // work tree is where .git now sits.
    await git(null, ["config", "--file", cfg, "--unset-all", "core.worktree"]).catch(() => {});
    await git(null, ["config", "--file", cfg, "core.bare", "false"]);
    return { root, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}
