import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// The ref tips of the host repository behind a `copy` workspace: every ref's
// object id, and HEAD. Recorded when the workspace is copied in, and read
// again when its bottle goes (launch/save-work.ts): the union is what the
// host already has. Both, because each misses something the other has: the
// record keeps the copy's starting point when the host's branches move on to
// commits the bottle never had (the end's tips would then exclude nothing),
// and the end's tips cover what reached the host during the session (pushed
// through the gate as refs/heads/bottle/<slug>/…), which is then not saved
// again. Empty when the folder is not a repository or git fails.
export async function hostRefTips(dir: string): Promise<string[]> {
  if (!existsSync(join(dir, ".git"))) return [];
  const p = Bun.spawn(["sh", "-c", 'git -C "$1" for-each-ref --format="%(objectname)"; git -C "$1" rev-parse -q --verify HEAD', "sh", dir], {
    stdout: "pipe",
    stderr: "ignore",
    stdin: "ignore",
  });
  const [out] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return out.split("\n").filter((l) => l.length > 0);
}

export async function recordBaseTips(dir: string, file: string): Promise<void> {
  writeFileSync(file, (await hostRefTips(dir)).map((t) => t + "\n").join(""), { mode: 0o600 });
}

export function readBaseTips(file: string): string[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0);
  } catch {
    return [];
  }
}
