import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GUEST_USER } from "../backends/guest.ts";
import type { Bottle } from "../backends/types.ts";
import { escapeControls } from "../gate/audit.ts";
import type { Spec } from "../manifest/spec.ts";
import { hostRefTips, readBaseTips } from "../provision/base-tips.ts";
import { lastLine } from "../provision/lines.ts";
import { baseTipsInput, parseSaveOutput, SAVE_CAP_BYTES, saveOutputLimit, saveWorkArgv } from "../provision/save-work.ts";
import { paths } from "../state/paths.ts";

// Before a bottle with a `copy` workspace is removed (the end of an attached
// session, or `down`), the work in it that is not on the host is kept as a
// git bundle under the home: one exec in the still-running bottle
// (provision/save-work.ts), one file, one line on stderr. Nothing new: no
// file, no line. It never fails the teardown: a bottle that is already gone
// (the gate's watcher, a kill) or an exec that hangs gets one line saying
// the work could not be saved, after at most `timeoutMs`.

export const SAVE_TIMEOUT_MS = 60_000;

export interface SaveWorkInput {
  home: string;
  slug: string;
  stateDir: string;
  spec: Pick<Spec, "workspace">;
  err: (line: string) => void;
  timeoutMs?: number;
  capBytes?: number;
  now?: Date;
}

// Returns the bundle's path when one was written.
export async function saveWork(bottle: Bottle, input: SaveWorkInput): Promise<string | null> {
  const ws = input.spec.workspace;
  if (ws.mode !== "copy" || !ws.path || !existsSync(join(ws.path, ".git"))) return null;
  const cap = input.capBytes ?? SAVE_CAP_BYTES;
  const timeoutMs = input.timeoutMs ?? SAVE_TIMEOUT_MS;
  const lost = (why: string) => {
    input.err(`claude-bottle: the work in ${input.slug} that is not on the host could not be saved (${escapeControls(why)}); only what was pushed through the gate is kept`);
    return null;
  };
  const tips = baseTipsInput([...readBaseTips(paths.baseTips(input.stateDir)), ...(await hostRefTips(ws.path))]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let out: string;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from the bottle in ${Math.round(timeoutMs / 1000)}s`)), timeoutMs);
    });
    const r = await Promise.race([bottle.run(saveWorkArgv(input.slug, cap), { user: GUEST_USER, input: tips, maxStdout: saveOutputLimit(cap) }), timedOut]);
    if (r.code !== 0) return lost(lastLine(r.stderr) ?? `exit ${r.code}`);
    out = r.stdout;
  } catch (e) {
    return lost((e as Error)?.message ?? String(e));
  } finally {
    clearTimeout(timer);
  }
  const saved = parseSaveOutput(out, cap);
  if (saved.kind === "none") return null;
  if (saved.kind === "bad") return lost(saved.why);
  if (saved.kind === "too-big") return lost(`its bundle is ${mib(saved.size)}, more than the ${mib(cap)} kept`);

  const dir = paths.savedDir(input.home);
  const file = join(dir, `${input.slug}-${stamp(input.now ?? new Date())}.bundle`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    // Written aside and renamed: a bundle is there whole or not at all.
    const part = `${file}.partial`;
    try {
      writeFileSync(part, saved.bundle, { mode: 0o600 });
      renameSync(part, file);
    } catch (e) {
      rmSync(part, { force: true });
      throw e;
    }
  } catch (e) {
    return lost(`writing ${file}: ${(e as Error).message}`);
  }
  const what = [
    saved.commits > 0 ? `${saved.commits} commit${saved.commits === 1 ? "" : "s"} not on the host` : null,
    saved.uncommitted ? "uncommitted changes (as refs/claude-bottle/uncommitted)" : null,
  ]
    .filter((w) => w !== null)
    .join(" and ");
  const unreadable = saved.unreadable ? "; some files could not be read and are missing" : "";
  input.err(`claude-bottle: saved ${what} from ${input.slug} to ${file}${unreadable}; get it back in your repository with: git fetch ${file} 'refs/*:refs/bottle-saved/${input.slug}/*'`);
  return file;
}

// 20261126T075443Z: sorts by time, no characters a shell or a file system minds.
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(n < 1024 * 1024 ? 2 : 0)} MiB`;
}
