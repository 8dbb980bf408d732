import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { baseEnv } from "../../../src/git/exec.ts";
import { gitleaksPath } from "../../../src/git/gitleaks.ts";
import { clientEnv, makeUpstream, ok, refs, serveVhost, sh, tempDir } from "./harness.ts";

// The hook with the REAL gitleaks on the gate's PATH (CI installs Debian
// trixie's 8.16 with scripts/ci/install-gitleaks.sh). Skipped only when no
// gitleaks is installed; in CI (CI=true or CLAUDE_BOTTLE_REQUIRE_GITLEAKS=1)
// a missing gitleaks fails instead, so the hook can never ship untested
// against the real program.
const required = process.env.CI === "true" || process.env.CLAUDE_BOTTLE_REQUIRE_GITLEAKS === "1";

function realGitleaks(): string | null {
  const bin = gitleaksPath();
  if (!bin) return null;
  const r = Bun.spawnSync([bin, "detect", "--help"], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 && r.stdout.toString().includes("--log-opts") ? bin : null;
}
const real = realGitleaks();

function gitleaksTest(name: string, fn: () => Promise<void>, timeout?: number): void {
  if (real) test(name, fn, timeout);
  else if (required) {
    test(name, () => {
      throw new Error("gitleaks is required (CI / CLAUDE_BOTTLE_REQUIRE_GITLEAKS=1) but none is on PATH: run scripts/ci/install-gitleaks.sh");
    });
  } else test.skipIf(true)(`${name} (skipped: gitleaks is not installed)`, () => {});
}

describe("git vhost: the real gitleaks on PATH", () => {
  const t = tempDir();
  const env = clientEnv(t.dir);
  let upstream: string;
  let srv: { base: string; stop: () => void };
  let dir: string;

  beforeAll(async () => {
    if (!real) return;
    upstream = await makeUpstream(t.dir, env);
    const base = baseEnv();
    expect(gitleaksPath(base.PATH)).toBe(real);
    srv = serveVhost({
      stateDir: join(t.dir, "state"),
      slug: "dev-realgl",
      upstreams: [{ name: "origin", url: upstream, allow_force: false, allow_delete: false }],
      secretsEnv: {},
      // git tracing in the gate's environment: gitleaks takes any line git
      // prints on stderr for a git error, so this must not reach it.
      env: { ...base, GIT_TRACE: "1", GIT_TRACE_PACKET: "1" },
    });
    dir = join(t.dir, "work");
    await ok(sh(["git", "clone", "-q", `${srv.base}/origin.git`, dir], { env }), "clone");
  });
  afterAll(() => {
    srv?.stop();
    t.cleanup();
  });

  const upstreamMain = async () => (await refs(upstream, env))["refs/heads/main"];
  async function commit(file: string, text: string, msg: string): Promise<string> {
    writeFileSync(join(dir, file), text);
    await ok(sh(["git", "add", "."], { cwd: dir, env }), "add");
    await ok(sh(["git", "commit", "-qm", msg], { cwd: dir, env }), "commit");
    return (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
  }
  // A Mailgun private key: gitleaks 8.16's default config has a rule for it
  // (mailgun-private-api-token), src/gate/dlp/rules.ts has none. Random per
  // run, so no secret-shaped literal lives in this file.
  const mailgunKey = () => `key-${randomBytes(16).toString("hex")}`;

  gitleaksTest("a clean push passes through the hook and reaches the upstream", async () => {
    const head = await commit("clean.txt", "just text\n", "clean");
    const started = Date.now();
    const r = await ok(sh(["git", "push", "origin", "main"], { cwd: dir, env }), "push");
    console.log(`real gitleaks: clean push accepted in ${Date.now() - started} ms`);
    expect(r.stderr).not.toContain("push rejected");
    expect(await upstreamMain()).toBe(head);
  });

  gitleaksTest("a secret only gitleaks knows is refused, named by gitleaks, never shown; the upstream is untouched", async () => {
    const parent = await upstreamMain();
    const key = mailgunKey();
    const leak = await commit("config.env", `MAILGUN_API_KEY = "${key}"\n`, "add config");
    // Removed again in the next commit: every pushed commit is scanned, not
    // just the tip.
    const head = await commit("config.env", "MAILGUN_API_KEY = from-the-environment\n", "drop the key");

    const r = await sh(["git", "push", "origin", "main"], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `push rejected by the secret scan: rule gitleaks:mailgun-private-api-token matched in file config.env (commit ${leak.slice(0, 12)})`,
    );
    for (const text of [r.stdout, r.stderr]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(key.slice(4));
    }
    // Nothing reached the upstream: neither the ref nor the objects.
    expect(await upstreamMain()).toBe(parent);
    for (const oid of [leak, head]) {
      expect((await sh(["git", "cat-file", "-e", oid], { cwd: upstream, env })).code).not.toBe(0);
    }
    // Nor the mirror's view of it.
    expect((await refs(join(t.dir, "state", "git", "origin.git"), env))["refs/heads/main"]).toBe(parent);
  });
});
