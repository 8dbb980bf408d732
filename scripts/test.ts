#!/usr/bin/env bun
// The project's one test command (`bun run test`): typecheck, then every
// suite with `bun test`, then one closing line `tests: N passed, N failed`.
//
// Canaries (test/canaries) are opt-in upstream checks and never run here.
// In CI, CLAUDE_BOTTLE_REQUIRE_DOCKER=1 turns every "no Docker" skip into a
// failure, so a broken CI set-up cannot pass by skipping.
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
// The folders tests create as claude-bottle homes must pass the home check
// (not group- or world-writable, src/state/home.ts) whatever the caller's
// umask; the suites inherit this one.
process.umask(0o022);
const suites = ["test/unit", "test/cli", "test/fuzz", "test/integration", "test/release", "test/escape"].filter((d) =>
  existsSync(join(root, d)),
);
const extra = process.argv.slice(2);

async function run(cmd: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { cwd: root, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
    const dec = new TextDecoder();
    for await (const chunk of s) {
      const text = dec.decode(chunk, { stream: true });
      out += text;
      sink.write(text);
    }
  };
  await Promise.all([pump(p.stdout, process.stdout), pump(p.stderr, process.stderr)]);
  return { code: await p.exited, out };
}

const tsc = await run(["bun", "x", "tsc", "--noEmit", "-p", "."]);
if (tsc.code !== 0) {
  console.log("typecheck failed");
  console.log("tests: 0 passed, 1 failed");
  process.exit(1);
}

// Integration tests start real containers on a 2-core machine: 5 s (the
// default) is too short for some of them.
const result = await run(["bun", "test", "--timeout", "120000", ...(extra.length ? extra : suites)]);
const count = (word: string) => {
  const m = result.out.match(new RegExp(`^\\s*(\\d+) ${word}$`, "m"));
  return m ? Number(m[1]) : 0;
};
const passed = count("pass");
const failed = count("fail");
const skipped = count("skip");
// Bun exits non-zero on failures; also fail when nothing ran at all.
const code = result.code !== 0 || passed === 0 ? 1 : 0;
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(code);
