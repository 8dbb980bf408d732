import { RELEASE_TARGETS } from "./targets.ts";

// Pure: the Homebrew formula from the template in packaging/homebrew/ and a
// release's checksums. Every target's sha256 is required; a formula with a
// hole in it would install for some users and fail its checksum for others.

export interface FormulaInput {
  template: string;
  version: string;
  // "owner/name" on GitHub.
  repo: string;
  // tarball file name -> sha256 (as in SHA256SUMS)
  sums: Map<string, string>;
}

export function tarballName(version: string, target: string): string {
  return `claude-bottle-${version}-${target}.tar.gz`;
}

export function renderFormula(i: FormulaInput): string {
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(i.repo)) throw new Error(`repo must be "owner/name" (got ${JSON.stringify(i.repo)})`);
  if (!/^[0-9A-Za-z.+-]+$/.test(i.version)) throw new Error(`version has unexpected characters: ${JSON.stringify(i.version)}`);
  const values: Record<string, string> = { VERSION: i.version, REPO: i.repo };
  for (const t of RELEASE_TARGETS) {
    const file = tarballName(i.version, t.name);
    const sha = i.sums.get(file);
    if (!sha) throw new Error(`no sha256 for ${file}; the formula needs all of ${RELEASE_TARGETS.map((x) => x.name).join(", ")}`);
    if (!/^[0-9a-f]{64}$/.test(sha)) throw new Error(`sha256 for ${file} is not 64 hex digits`);
    values[`SHA256_${t.os.toUpperCase()}_${t.arch.toUpperCase()}`] = sha;
  }
  const out = i.template.replace(/@([A-Z0-9_]+)@/g, (whole, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`formula template has an unknown placeholder ${whole}`);
    return v;
  });
  return out;
}

// Pure: the (url, sha256) pairs a rendered formula names, so tests can check
// it against SHA256SUMS without a Ruby interpreter.
export function formulaChecksums(formula: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /url\s+"([^"]+)"\s*\n\s*sha256\s+"([0-9a-f]{64})"/g;
  for (const m of formula.matchAll(re)) out.set(m[1]!.slice(m[1]!.lastIndexOf("/") + 1), m[2]!);
  return out;
}
