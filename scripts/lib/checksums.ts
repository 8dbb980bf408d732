import { basename } from "node:path";

// SHA256SUMS in the format `sha256sum -c` and `shasum -a 256 -c` read:
// "<64 hex>  <file name>" (two spaces = text mode marker that both accept).

export async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  // Stream: release tarballs are ~40 MB each.
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

export function formatSums(sums: Map<string, string>): string {
  return [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, sha]) => `${sha}  ${basename(name)}\n`)
    .join("");
}

export function parseSums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`SHA256SUMS line ${i + 1} is not "<sha256>  <file>": ${line}`);
    out.set(m[2]!, m[1]!);
  }
  return out;
}
