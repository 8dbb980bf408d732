import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { paths } from "../../state/paths.ts";

// What the last launch learned, so that the next one checks the agent image
// with ONE engine call (`docker image inspect <base> <tag>`) instead of an
// inspect per image, and never re-reads a large package tarball:
// - per base image reference: the base's id and architecture and the agent
//   image (tag, content hash) built on it;
// - per package tarball: its sha256 and package.json name/version, valid
//   while its size and mtime are unchanged.
// Only a shortcut: any mismatch falls back to the full check, which writes
// a fresh record.

export interface ImageRecord {
  baseId: string;
  arch: string;
  tag: string;
  hash: string;
}

export interface PackFacts {
  sha256: string;
  name?: string;
  version?: string;
}

const dir = (home: string) => join(paths.cacheDir(home), "agent-image");
const keyOf = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex").slice(0, 32);

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return null;
  }
}

function writeJson(file: string, value: unknown): void {
  try {
    mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(value) + "\n", { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // a cache: losing a write only costs the next launch a full check
  }
}

export function readImageRecord(home: string, base: string): ImageRecord | null {
  const r = readJson<ImageRecord & { base?: string }>(join(dir(home), `base-${keyOf(base)}.json`));
  return r && r.base === base && typeof r.tag === "string" && typeof r.hash === "string" && typeof r.baseId === "string" ? r : null;
}

export function writeImageRecord(home: string, base: string, r: ImageRecord): void {
  writeJson(join(dir(home), `base-${keyOf(base)}.json`), { base, ...r });
}

// The facts of a tarball, from the cache while its size and mtime match,
// else from `compute` (and cached).
export async function packFacts(home: string, path: string, compute: () => Promise<PackFacts>): Promise<PackFacts> {
  const st = statSync(path);
  const file = join(dir(home), `pack-${keyOf(path)}.json`);
  const c = readJson<PackFacts & { path: string; size: number; mtimeMs: number }>(file);
  if (c && c.path === path && c.size === st.size && c.mtimeMs === st.mtimeMs && typeof c.sha256 === "string") return c;
  const f = await compute();
  writeJson(file, { path, size: st.size, mtimeMs: st.mtimeMs, ...f });
  return f;
}
