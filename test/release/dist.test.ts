import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { distIsStale } from "../../scripts/lib/dist.ts";

// The one staleness rule the tests and the benchmarks rebuild by: every
// input of the build, at any depth, counts; nothing else does.
const root = mkdtempSync(join(tmpdir(), "cb-dist-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const at = (rel: string, seconds: number) => {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, "x");
  utimesSync(p, seconds, seconds);
};

test("missing, then fresh, then stale by each input of the build", () => {
  at("src/cli.ts", 1000);
  at("scripts/lib/compile.ts", 1000);
  at("scripts/build.ts", 1000);
  at("package.json", 1000);
  expect(distIsStale(root)).toBe(true);
  at("dist/claude-bottle", 2000);
  expect(distIsStale(root)).toBe(false);
  // Not inputs: the tests, the benchmarks, the docs.
  for (const rel of ["test/x.test.ts", "bench/up.ts", "README.md"]) at(rel, 3000);
  expect(distIsStale(root)).toBe(false);
  let t = 3000;
  for (const rel of ["src/gate/tls/deep/leaf.ts", "scripts/lib/help.ts", "scripts/build.ts", "package.json", "bun.lock"]) {
    at("dist/claude-bottle", ++t);
    expect(distIsStale(root)).toBe(false);
    at(rel, ++t);
    expect({ rel, stale: distIsStale(root) }).toEqual({ rel, stale: true });
  }
});
