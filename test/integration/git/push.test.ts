import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { insteadOfConfig } from "../../../src/git/gitconfig.ts";
import { clientEnv, makeUpstream, ok, refs, serveVhost, sh, tempDir } from "./harness.ts";

// Push side of git.bottle.internal with a real git client, real mirrors, the
// real `claude-bottle hook pre-receive` (run from source via selfCommand) and
// local bare upstreams.

function rand(alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
// Key-shaped strings built at run time (none is stored in the repository).
const KEYS = {
  "aws-access-key": "AKIA" + rand(UPPER, 16),
  "github-token": "ghp_" + rand(ALNUM, 36),
  "anthropic-key": "sk-ant-api03-" + rand(ALNUM, 20) + "7" + rand(ALNUM, 40),
};

describe("git vhost: push", () => {
  const t = tempDir();
  const env = clientEnv(t.dir);
  let srv: { base: string; stop: () => void };
  const up: Record<string, string> = {};

  beforeAll(async () => {
    for (const n of ["origin", "limited", "loose"]) up[n] = await makeUpstream(t.dir, env, `${n}-upstream.git`);
    srv = serveVhost({
      stateDir: join(t.dir, "state"),
      slug: "dev-push1",
      upstreams: [
        { name: "origin", url: up.origin!, allow_force: false, allow_delete: false },
        { name: "limited", url: up.limited!, branches: ["feature/*"], allow_force: false, allow_delete: false },
        { name: "loose", url: up.loose!, allow_force: true, allow_delete: true },
      ],
      secretsEnv: {},
    });
    // The bottle's ~/.gitconfig: the upstream URLs go to the gate.
    writeFileSync(join(t.dir, ".gitconfig"), insteadOfConfig(Object.entries(up).map(([name, url]) => ({ name, url })), srv.base), { flag: "a" });
  });
  afterAll(() => {
    srv?.stop();
    t.cleanup();
  });

  async function work(name: string): Promise<string> {
    const dir = join(t.dir, `work-${name}-${Math.random().toString(36).slice(2, 7)}`);
    // Cloned by its real upstream URL: insteadOf sends it through the gate.
    await ok(sh(["git", "clone", "-q", up[name]!, dir], { env }), "clone");
    const url = (await sh(["git", "remote", "get-url", "--push", "origin"], { cwd: dir, env })).stdout.trim();
    expect(url).toBe(`${srv.base}/${name}.git`);
    return dir;
  }
  async function commit(dir: string, file: string, text: string, msg = "change"): Promise<string> {
    writeFileSync(join(dir, file), text);
    await ok(sh(["git", "add", "-A"], { cwd: dir, env }), "add");
    await ok(sh(["git", "commit", "-qm", msg], { cwd: dir, env }), "commit");
    return (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
  }

  for (const [rule, key] of Object.entries(KEYS)) {
    test(`a README linking to attacker.example with a ${rule}-shaped key is rejected before any upstream contact`, async () => {
      const dir = await work("origin");
      const before = await refs(up.origin!, env);
      const bad = await commit(dir, "README.md", `# project\n\nSee [docs](https://attacker.example/?k=${key}).\n`, "docs: add link");
      // A clean commit on top: the scan must look at every new commit.
      await commit(dir, "CHANGELOG.md", "clean\n");
      const r = await sh(["git", "push", "origin", "main"], { cwd: dir, env });
      expect(r.code).not.toBe(0);
      const out = r.stdout + r.stderr;
      expect(out).toContain(`rule ${rule}`);
      expect(out).toContain("file README.md");
      expect(out).toContain(`commit ${bad.slice(0, 12)}`);
      expect(out).not.toContain(key);
      expect(out).not.toContain(key.slice(4, 20));
      // The upstream is untouched: same refs, and the object never arrived.
      expect(await refs(up.origin!, env)).toEqual(before);
      expect((await sh(["git", "cat-file", "-e", bad], { cwd: up.origin!, env })).code).not.toBe(0);
      // Nor did the mirror move.
      expect((await refs(join(t.dir, "state", "git", "origin.git"), env))["refs/heads/main"]).toBe(before["refs/heads/main"]);
    });
  }

  test("a secret in a commit message is rejected too", async () => {
    const dir = await work("origin");
    await commit(dir, "x.txt", "x\n", `token ${KEYS["github-token"]}`);
    const r = await sh(["git", "push", "origin", "main"], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("rule github-token matched in the commit message");
    expect(r.stderr).not.toContain(KEYS["github-token"]);
  });

  test("a clean push reaches the upstream and the mirror", async () => {
    const dir = await work("origin");
    const head = await commit(dir, "feature.txt", "hello\n");
    const r = await ok(sh(["git", "push", "origin", "main"], { cwd: dir, env }), "push");
    expect(r.stderr).toContain("forwarded to 'origin': refs/heads/main");
    expect((await refs(up.origin!, env))["refs/heads/main"]).toBe(head);
    expect((await refs(join(t.dir, "state", "git", "origin.git"), env))["refs/heads/main"]).toBe(head);
    // A new branch and a tag.
    await ok(sh(["git", "push", "-q", "origin", "HEAD:refs/heads/topic", "HEAD:refs/tags/v1"], { cwd: dir, env }), "push branch+tag");
    const after = await refs(up.origin!, env);
    expect(after["refs/heads/topic"]).toBe(head);
    expect(after["refs/tags/v1"]).toBe(head);
  });

  test("branch patterns: only feature/* reaches 'limited'", async () => {
    const dir = await work("limited");
    const head = await commit(dir, "a.txt", "a\n");
    const denied = await sh(["git", "push", "origin", "main"], { cwd: dir, env });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain("branch 'main' is not allowed for 'limited' (allowed: feature/*)");
    expect((await refs(up.limited!, env))["refs/heads/main"]).not.toBe(head);
    await ok(sh(["git", "push", "-q", "origin", "HEAD:refs/heads/feature/a"], { cwd: dir, env }), "push feature/a");
    expect((await refs(up.limited!, env))["refs/heads/feature/a"]).toBe(head);
    const nested = await sh(["git", "push", "origin", "HEAD:refs/heads/feature/a/b"], { cwd: dir, env });
    expect(nested.code).not.toBe(0);
    const tag = await sh(["git", "push", "origin", "HEAD:refs/tags/v9"], { cwd: dir, env });
    expect(tag.code).not.toBe(0);
    expect(await refs(up.limited!, env)).not.toHaveProperty("refs/tags/v9");
  });

  test("force-push and deletion are refused by default", async () => {
    const dir = await work("origin");
    await commit(dir, "f.txt", "1\n");
    await ok(sh(["git", "push", "-q", "origin", "HEAD:refs/heads/rewrite"], { cwd: dir, env }), "push");
    const pushed = (await refs(up.origin!, env))["refs/heads/rewrite"];
    await ok(sh(["git", "commit", "-q", "--amend", "-m", "rewritten"], { cwd: dir, env }), "amend");
    const force = await sh(["git", "push", "--force", "origin", "HEAD:refs/heads/rewrite"], { cwd: dir, env });
    expect(force.code).not.toBe(0);
    expect(force.stderr).toContain("allow_force: false");
    const del = await sh(["git", "push", "origin", ":refs/heads/rewrite"], { cwd: dir, env });
    expect(del.code).not.toBe(0);
    expect(del.stderr).toContain("allow_delete: false");
    expect((await refs(up.origin!, env))["refs/heads/rewrite"]).toBe(pushed);
  });

  test("force-push and deletion pass when the manifest allows them", async () => {
    const dir = await work("loose");
    await commit(dir, "f.txt", "1\n");
    await ok(sh(["git", "push", "-q", "origin", "HEAD:refs/heads/rewrite"], { cwd: dir, env }), "push");
    await ok(sh(["git", "commit", "-q", "--amend", "-m", "rewritten"], { cwd: dir, env }), "amend");
    const amended = (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
    await ok(sh(["git", "push", "-q", "--force", "origin", "HEAD:refs/heads/rewrite"], { cwd: dir, env }), "force push");
    expect((await refs(up.loose!, env))["refs/heads/rewrite"]).toBe(amended);
    await ok(sh(["git", "push", "-q", "origin", ":refs/heads/rewrite"], { cwd: dir, env }), "delete");
    expect(await refs(up.loose!, env)).not.toHaveProperty("refs/heads/rewrite");
  });

  test("a push racing an upstream change is refused by the upstream, not clobbered", async () => {
    const dir = await work("loose");
    // Someone else moves main upstream after our clone.
    const other = join(t.dir, "other-loose");
    await ok(sh(["git", "clone", "-q", "--no-local", `file://${up.loose!}`, other], { env: { ...env, HOME: join(t.dir, "nohome") } }), "clone direct");
    writeFileSync(join(other, "o.txt"), "o\n");
    await ok(sh(["git", "add", "."], { cwd: other, env }), "add");
    await ok(sh(["git", "commit", "-qm", "other"], { cwd: other, env }), "commit");
    await ok(sh(["git", "push", "-q", "origin", "main"], { cwd: other, env: { ...env, HOME: join(t.dir, "nohome") } }), "push direct");
    const theirs = (await refs(up.loose!, env))["refs/heads/main"];
    await commit(dir, "mine.txt", "m\n");
    // Without --force: the refreshed mirror makes it a non-fast-forward.
    const r = await sh(["git", "push", "origin", "main"], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    expect((await refs(up.loose!, env))["refs/heads/main"]).toBe(theirs);
  });
});
