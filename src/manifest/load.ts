import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { paths } from "../state/paths.ts";
import { buildCatalog, type Catalog, type RawFile, type RawManifests } from "./catalog.ts";
import { MAX_FILE_BYTES } from "./frontmatter.ts";

// The I/O edge of manifest loading: which directories are read, and what is
// skipped. The filesystem layout IS the trust boundary: bottles (which name
// host secrets and where they may go) come only from the home directory; the
// current directory, often a cloned repository, may only add agents.

const FILE_RE = /^[a-z][a-z0-9-]*\.md$/;
const MAX_FILES = 1000;

export interface LoadResult {
  catalog: Catalog;
  warnings: string[];
}

function readDir(dir: string, warnings: string[]): RawFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e: any) {
    if (e?.code === "ENOENT" || e?.code === "ENOTDIR") return [];
    throw new UserError(`cannot read ${dir} (${e?.code ?? "error"}); check its permissions`);
  }
  names.sort();
  if (names.length > MAX_FILES) throw new UserError(`${dir} holds more than ${MAX_FILES} entries; remove the ones you don't use`);
  const out: RawFile[] = [];
  for (const n of names) {
    const path = join(dir, n);
    if (!FILE_RE.test(n)) {
      warnings.push(`skipping ${path}: manifest file names must look like my-name.md (a-z, 0-9, -)`);
      continue;
    }
    let st;
    try {
      st = statSync(path);
    } catch {
      warnings.push(`skipping ${path}: cannot be read (broken link?)`);
      continue;
    }
    if (!st.isFile()) {
      warnings.push(`skipping ${path}: not a regular file`);
      continue;
    }
    if (st.size > MAX_FILE_BYTES) throw new UserError(`${path}: file is too large (${st.size} bytes, max ${MAX_FILE_BYTES}); keep manifests small`);
    out.push({ name: n.slice(0, -3), path, bytes: readFileSync(path) });
  }
  return out;
}

function same(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

export function readManifests(home: string, cwd: string): { raw: RawManifests; warnings: string[] } {
  const warnings: string[] = [];
  const repoRoot = join(cwd, ".claude-bottle");
  // Running from $HOME makes ./.claude-bottle the home directory itself:
  // read it once, as home.
  const repoIsHome = same(repoRoot, home);
  const repoBottles = join(repoRoot, "bottles");
  if (!repoIsHome && exists(repoBottles)) {
    warnings.push(
      `ignoring ${repoBottles}: bottles are only read from ${paths.bottlesDir(home)} (a repository must not decide where your secrets go)`,
    );
  }
  const raw: RawManifests = {
    homeBottles: readDir(paths.bottlesDir(home), warnings),
    homeAgents: readDir(paths.agentsDir(home), warnings),
    repoAgents: repoIsHome ? [] : readDir(join(repoRoot, "agents"), warnings),
  };
  return { raw, warnings };
}

export function loadCatalog(home: string, cwd: string, hostEnv: Record<string, string | undefined>): LoadResult {
  const { raw, warnings } = readManifests(home, cwd);
  return { catalog: buildCatalog(raw, hostEnv), warnings };
}
