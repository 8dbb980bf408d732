import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// Every CLAUDE_BOTTLE_* variable the program reads is in the README's table,
// and every row of that table is still read: the list a user checks to know
// what their environment can change stays true.
const ROOT = join(import.meta.dir, "../..");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name));
}

test("the README documents exactly the CLAUDE_BOTTLE_* variables src/ reads", () => {
  const read = new Set<string>();
  for (const f of sources(join(ROOT, "src"))) for (const m of readFileSync(f, "utf8").matchAll(/CLAUDE_BOTTLE_[A-Z_]+/g)) read.add(m[0]);
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const documented = new Set([...readme.matchAll(/^\| `(CLAUDE_BOTTLE_[A-Z_]+)` \|/gm)].map((m) => m[1]!));
  expect([...read].sort()).toEqual([...documented].sort());
  // The seams that moved secrets are gone for good.
  for (const gone of ["CLAUDE_BOTTLE_GATE_HOSTS", "CLAUDE_BOTTLE_GATE_EXTRA_CA", "CLAUDE_BOTTLE_SELF"]) expect(read.has(gone)).toBe(false);
});
