import { statSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { Bottle } from "../backends/types.ts";
import { UserError } from "../errors.ts";

// copyIn for any backend: a host `tar -c` whose stdout is streamed (never
// buffered whole) into `tar -x` in the bottle, run as `user`, so the files
// come out owned by that user with their modes kept and no capability
// (chown) is needed. Works for files and directories; needs only sh and tar
// in the image.
export async function copyInByTar(bottle: Pick<Bottle, "run">, hostPath: string, guestPath: string, user?: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = statSync(hostPath).isDirectory();
  } catch {
    throw new UserError(`cannot copy ${hostPath} into the bottle: it does not exist`);
  }
  const tarArgv = isDir ? ["tar", "-C", hostPath, "-cf", "-", "."] : ["tar", "-C", dirname(hostPath), "-cf", "-", basename(hostPath)];
  const script = isDir
    ? 'mkdir -p "$1" && tar -xf - -C "$1"'
    : 'd=$(mktemp -d) && tar -xf - -C "$d" && mkdir -p "$(dirname "$1")" && mv "$d/$2" "$1" && rmdir "$d"';
  const tar = Bun.spawn(tarArgv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [tarErr, tarCode, r] = await Promise.all([
    new Response(tar.stderr).text(),
    tar.exited,
    bottle.run(["sh", "-c", script, "sh", guestPath, basename(hostPath)], { user, input: tar.stdout }),
  ]);
  if (tarCode !== 0) throw new UserError(`could not read ${hostPath} to copy it into the bottle: ${lastLine(tarErr) ?? `tar exit ${tarCode}`}`);
  if (r.code !== 0) throw new UserError(`could not copy ${hostPath} to ${guestPath} in the bottle: ${lastLine(r.stderr) ?? `exit ${r.code}`}`);
}

export function lastLine(s: string): string | undefined {
  return s.trim().split("\n").at(-1) || undefined;
}
