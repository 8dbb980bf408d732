import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { formatSums, sha256File } from "./checksums.ts";
import { compile } from "./compile.ts";
import { renderFormula, tarballName } from "./formula.ts";
import { tarGz, type TarEntry } from "./tar.ts";
import { RELEASE_TARGETS, type ReleaseTarget } from "./targets.ts";

// The release core: compile each target, pack it, checksum it, and (when the
// set is complete) render the Homebrew formula. scripts/release.ts is the CLI.

export interface ReleaseOptions {
  root: string;
  outDir: string;
  version: string;
  commit: string;
  targets: ReleaseTarget[];
  // Timestamp for every tar entry: the commit time, so two runs of the same
  // commit give the same tarball bytes.
  mtime: number;
  // "owner/name"; without it no formula is rendered.
  repo?: string;
  // Keep the unpacked binaries as <dir>/<target>/claude-bottle (the bench).
  keepBinariesDir?: string;
  log?: (line: string) => void;
}

export interface BuiltTarget {
  target: ReleaseTarget;
  file: string; // tarball file name
  path: string; // tarball path
  sha256: string;
  binarySize: number;
  tarballSize: number;
}

export interface ReleaseResult {
  built: BuiltTarget[];
  sumsPath: string;
  formulaPath?: string;
  formulaSkipped?: string;
}

// Documents shipped next to the binary, when the repository has them. The
// repository has no LICENSE file today, so a tarball holds claude-bottle and
// README.md; adding a LICENSE later puts it in every tarball without a code
// change.
export const SHIPPED_DOCS = ["README.md", "LICENSE"] as const;

export function topDir(version: string, target: string): string {
  return `claude-bottle-${version}-${target}`;
}

export async function buildRelease(o: ReleaseOptions): Promise<ReleaseResult> {
  const log = o.log ?? (() => {});
  mkdirSync(o.outDir, { recursive: true });
  const docs: TarEntry[] = [];
  for (const name of SHIPPED_DOCS) {
    const p = join(o.root, name);
    if (existsSync(p)) docs.push({ path: name, data: new Uint8Array(await Bun.file(p).arrayBuffer()), mode: 0o644 });
  }
  const stage = mkdtempSync(join(o.outDir, ".stage-"));
  const built: BuiltTarget[] = [];
  try {
    for (const t of o.targets) {
      const bin = join(stage, t.name, "claude-bottle");
      const started = performance.now();
      await compile({ root: o.root, outfile: bin, target: t.bun, commit: o.commit });
      const data = new Uint8Array(await Bun.file(bin).arrayBuffer());
      const dir = topDir(o.version, t.name);
      const entries: TarEntry[] = [
        { path: `${dir}/`, mode: 0o755 },
        { path: `${dir}/claude-bottle`, data, mode: 0o755 },
        ...docs.map((d) => ({ ...d, path: `${dir}/${d.path}` })),
      ];
      const file = tarballName(o.version, t.name);
      const path = join(o.outDir, file);
      await Bun.write(path, tarGz(entries, o.mtime));
      const sha256 = await sha256File(path);
      const tarballSize = statSync(path).size;
      built.push({ target: t, file, path, sha256, binarySize: data.length, tarballSize });
      log(`${file}  ${mib(tarballSize)} (binary ${mib(data.length)})  ${Math.round(performance.now() - started)} ms`);
      if (o.keepBinariesDir) {
        const keep = join(o.keepBinariesDir, t.name);
        mkdirSync(keep, { recursive: true });
        renameSync(bin, join(keep, "claude-bottle"));
      }
    }
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }

  const sums = new Map(built.map((b) => [b.file, b.sha256] as [string, string]));
  const sumsPath = join(o.outDir, "SHA256SUMS");
  await Bun.write(sumsPath, formatSums(sums));
  log(`SHA256SUMS  ${built.length} file(s)`);

  const result: ReleaseResult = { built, sumsPath };
  const missing = RELEASE_TARGETS.filter((t) => !o.targets.some((x) => x.name === t.name));
  if (!o.repo) result.formulaSkipped = "no repository given (--repo owner/name or GITHUB_REPOSITORY)";
  else if (missing.length > 0) result.formulaSkipped = `needs every target; missing ${missing.map((t) => t.name).join(", ")}`;
  else {
    const template = await Bun.file(join(o.root, "packaging/homebrew/claude-bottle.rb.in")).text();
    result.formulaPath = join(o.outDir, "claude-bottle.rb");
    await Bun.write(result.formulaPath, renderFormula({ template, version: o.version, repo: o.repo, sums }));
    log(`claude-bottle.rb  formula for ${o.repo}`);
  }
  if (result.formulaSkipped) log(`formula: skipped (${result.formulaSkipped})`);
  return result;
}

// Seconds since the epoch of HEAD's commit; SOURCE_DATE_EPOCH wins (the
// reproducible-builds convention).
export function sourceDateEpoch(root: string, env: Record<string, string | undefined> = process.env): number {
  const forced = env.SOURCE_DATE_EPOCH;
  if (forced && /^\d+$/.test(forced)) return Number(forced);
  const r = Bun.spawnSync(["git", "log", "-1", "--format=%ct"], { cwd: root, stderr: "ignore" });
  const n = Number(r.stdout.toString().trim());
  return r.exitCode === 0 && Number.isInteger(n) && n > 0 ? n : 0;
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}
