import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/errors.ts";
import { parseAgent, parseBottle } from "../../src/manifest/parse.ts";
import { ensureBuilt, runBin } from "../cli/binary.ts";
import { PLANTED, generate, prng } from "./generate.ts";

// Malformed manifests must give one clean line, never a crash, a hang, a
// stack trace or a leaked value. Seeded: a failure prints the seed to replay
// with CLAUDE_BOTTLE_FUZZ_SEED.
const SEED = Number(process.env.CLAUDE_BOTTLE_FUZZ_SEED ?? Date.now() % 1_000_000);
const IN_PROCESS = 1200;
const THROUGH_BINARY = 50;

function label(i: number, category: string, kind: string) {
  return `seed ${SEED}, case ${i} (${category}, ${kind})`;
}

describe(`manifest fuzz (seed ${SEED})`, () => {
  test(`${IN_PROCESS} malformed manifests in-process: each a one-line UserError naming the file`, () => {
    const cases = generate(prng(SEED), IN_PROCESS);
    const byCategory = new Map<string, number>();
    for (const [i, c] of cases.entries()) {
      const file = `/fuzz/${c.kind}s/case-${i}.md`;
      let err: unknown;
      const started = performance.now();
      try {
        if (c.kind === "bottle") parseBottle(file, c.bytes);
        else parseAgent(file, c.bytes);
      } catch (e) {
        err = e;
      }
      const where = label(i, c.category, c.kind);
      if (!(err instanceof UserError)) {
        throw new Error(`${where}: expected a UserError, got ${err === undefined ? "success" : String(err)}\n${new TextDecoder().decode(c.bytes).slice(0, 400)}`);
      }
      const msg = err.message;
      if (msg.includes("\n") || !msg.startsWith(`${file}: `) || msg.length > 400 || msg.includes(PLANTED)) {
        throw new Error(`${where}: bad message: ${JSON.stringify(msg)}`);
      }
      if (performance.now() - started > 2000) throw new Error(`${where}: took too long`);
      byCategory.set(c.category, (byCategory.get(c.category) ?? 0) + 1);
    }
    // Every category was exercised.
    expect([...byCategory.keys()].sort()).toEqual(["bad-yaml", "binary", "huge", "structural", "unknown-key", "wrong-type"]);
    expect([...byCategory.values()].reduce((a, b) => a + b)).toBe(IN_PROCESS);
  });

  describe("through the compiled binary", () => {
    const tmp = mkdtempSync(join(tmpdir(), "cb-fuzz-"));
    beforeAll(() => ensureBuilt());
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));

    test(`${THROUGH_BINARY} malformed manifests: exit 1, one line on stderr, nothing on stdout`, async () => {
      const cases = generate(prng(SEED + 1), THROUGH_BINARY);
      for (const [i, c] of cases.entries()) {
        const home = join(tmp, `h${i}`);
        const cwd = join(tmp, `c${i}`);
        mkdirSync(join(home, "bottles"), { recursive: true });
        mkdirSync(join(cwd, ".claude-bottle/agents"), { recursive: true });
        // Agents go in the repo folder: the untrusted place a clone controls.
        const path = c.kind === "bottle" ? join(home, "bottles/fuzz.md") : join(cwd, ".claude-bottle/agents/fuzz.md");
        writeFileSync(path, c.bytes);
        const r = await runBin(["up", "--dry-run", "--format", "json"], {
          cwd,
          env: { HOME: tmp, CLAUDE_BOTTLE_HOME: home, CLAUDE_BOTTLE_BACKEND: "docker" },
        });
        const where = label(i, c.category, c.kind);
        const lines = r.stderr.split("\n").filter(Boolean);
        const ok =
          r.code === 1 &&
          r.stdout === "" &&
          lines.length === 1 &&
          lines[0]!.startsWith(`claude-bottle: ${path}: `) &&
          !r.stderr.includes("internal error") &&
          !r.stderr.includes(PLANTED);
        if (!ok) throw new Error(`${where}: code ${r.code}, stdout ${JSON.stringify(r.stdout.slice(0, 200))}, stderr ${JSON.stringify(r.stderr.slice(0, 400))}`);
      }
    });
  });
});
