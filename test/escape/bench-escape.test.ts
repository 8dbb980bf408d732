import { expect, test } from "bun:test";
import { join } from "node:path";
import { dockerRequired, dockerTest, TEST_BASE_IMAGE } from "../helpers/docker.ts";

// `bun run bench:escape -- --quick` in the suite, so CI shows the side by
// side's closing line: the bottle, srt with an allowlist and srt with TLS
// termination and masking, attacked by the same catalogue, judged by the
// same receivers. The bottle must block every applicable attack; the run
// must finish (no attack that did not run, every control through). It
// needs root (a private mount namespace, bubblewrap): on a laptop that is
// not, it is skipped; in CI (root) nothing is.
const runAs = process.getuid?.() === 0 || dockerRequired ? dockerTest : (name: string) => test.skip(`${name} (skipped: not root)`, () => {});
runAs(
  "bench:escape --quick: the escape: line, and the bottle blocks every applicable attack",
  async () => {
    const root = join(import.meta.dir, "..", "..");
    const started = Date.now();
    const p = Bun.spawn(["bun", "run", "bench:escape", "--", "--quick"], {
      cwd: root,
      env: { ...process.env, CLAUDE_BOTTLE_AGENT_PACKAGE: "none", CLAUDE_BOTTLE_BASE_IMAGE: process.env.CLAUDE_BOTTLE_BASE_IMAGE ?? TEST_BASE_IMAGE },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    console.log(out);
    console.log(`bench:escape --quick took ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (code !== 0) console.error(err.split("\n").slice(-40).join("\n"));
    const m = out.match(/^escape: bottle=(\d+)\/(\d+) srt=(\d+)\/(\d+) srt_masked=(\d+)\/(\d+)$/m);
    expect(m).not.toBeNull();
    const [b, n] = [Number(m![1]), Number(m![2])];
    expect(n).toBeGreaterThan(15);
    expect(b).toBe(n);
    expect(code).toBe(0);
  },
  900_000,
);
