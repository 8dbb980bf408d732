import { beforeAll, expect, test } from "bun:test";
import { commands } from "../../src/commands/registry.ts";
import { ROOT, ensureBuilt, runBin, stripAnsi } from "./binary.ts";

beforeAll(() => ensureBuilt());

test("--version prints the version, a real git commit and the target", async () => {
  const r = await runBin(["--version"]);
  expect(r.code).toBe(0);
  const m = /^claude-bottle (\d+\.\d+\.\d+) \(commit ([0-9a-f]{7,40})(-dirty)?, target (bun-[a-z]+-[a-z0-9]+)\)\n$/.exec(r.stdout);
  expect(m).not.toBeNull();
  expect(m![1]).toBe((await Bun.file(`${ROOT}/package.json`).json()).version);
  // The commit baked in at build time names a commit that exists.
  const exists = Bun.spawnSync(["git", "cat-file", "-e", `${m![2]}^{commit}`], { cwd: ROOT });
  expect(exists.exitCode).toBe(0);
  expect(m![4]).toBe(`bun-${process.platform}-${process.arch}`);
});

test("--help lists every visible command with its one-line description", async () => {
  const r = await runBin(["--help"]);
  expect(r.code).toBe(0);
  const out = stripAnsi(r.stdout);
  let visible = 0;
  for (const [name, load] of Object.entries(commands)) {
    const meta = (await load()).meta as { description?: string; hidden?: boolean };
    if (meta.hidden) {
      expect(out).not.toMatch(new RegExp(`^\\s+${name}\\s`, "m"));
      continue;
    }
    visible++;
    expect(meta.description ?? "").not.toContain("\n");
    expect(out).toMatch(new RegExp(`^\\s+${name}\\s+${meta.description!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "m"));
  }
  expect(visible).toBeGreaterThanOrEqual(3);
});

test("an unknown command is one line and exit 2", async () => {
  const r = await runBin(["frobnicate"]);
  expect(r.code).toBe(2);
  expect(stripAnsi(r.stderr)).toMatch(/^claude-bottle: .*frobnicate.*claude-bottle --help.*\n$/);
});
