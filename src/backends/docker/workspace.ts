import { existsSync, lstatSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../errors.ts";
import type { DockerBottle } from "./bottle.ts";
import { GUEST_USER, GUEST_WORKSPACE } from "../../provision/guest.ts";
import type { WorkspaceMounts } from "./args.ts";

// The workspace in `copy` mode: the repository's work tree (tracked files
// plus untracked ones that are not ignored) and its whole .git, streamed as
// tar into /workspace and unpacked there as `node` (owner node, modes kept).
// Ignored files (build output, .env files) stay on the host.

// Pure: the NUL-separated file list for tar from `git ls-files -z` output;
// tracked files deleted in the work tree are skipped.
export function copyList(lsFilesZ: string, exists: (rel: string) => boolean): string {
  const files = lsFilesZ.split("\0").filter((f) => f.length > 0 && exists(f));
  return [".git", ...new Set(files)].join("\0") + "\0";
}

async function gitFiles(dir: string): Promise<string | null> {
  const p = Bun.spawn(["git", "-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return code === 0 ? out : null;
}

export async function copyWorkspace(bottle: DockerBottle, dir: string): Promise<void> {
  if (!existsSync(dir)) throw new UserError(`workspace ${dir} does not exist`);
  const listing = existsSync(join(dir, ".git")) ? await gitFiles(dir) : null;
  const script = `tar -xf - -C ${GUEST_WORKSPACE}`;
  if (listing === null) {
    // Not a git repository: the directory as it is.
    await bottle.tarInto(["tar", "-C", dir, "-cf", "-", "."], ["sh", "-c", script], GUEST_USER, `copy the workspace ${dir}`);
    return;
  }
  const list = copyList(listing, (rel) => {
    try {
      lstatSync(join(dir, rel));
      return true;
    } catch {
      return false;
    }
  });
  await bottle.tarInto(["tar", "-C", dir, "--null", "-T", "-", "-cf", "-"], ["sh", "-c", script], GUEST_USER, `copy the workspace ${dir}`, list);
}

// What `mount` mode needs to know about the host repository.
export function workspaceMounts(mode: WorkspaceMounts["mode"], path: string | null): WorkspaceMounts {
  if (mode !== "mount" || !path) return { mode, path };
  return { mode, path, gitHooks: existsSync(join(path, ".git", "hooks")), gitConfig: existsSync(join(path, ".git", "config")) };
}
