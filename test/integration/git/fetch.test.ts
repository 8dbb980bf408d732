import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { clientEnv, makeUpstream, ok, refs, serveVhost, sh, tempDir } from "./harness.ts";

// Fetch side of git.bottle.internal with a real git client: clone, pull of a
// change made upstream after the clone (the mirror is refreshed before every
// advertisement), a clear error when the upstream is gone, and nothing but
// smart HTTP served.
describe("git vhost: fetch", () => {
  const t = tempDir();
  const env = clientEnv(t.dir);
  let upstream: string;
  let srv: { base: string; stop: () => void };

  beforeAll(async () => {
    upstream = await makeUpstream(t.dir, env);
    srv = serveVhost({
      stateDir: join(t.dir, "state"),
      slug: "dev-fetch",
      upstreams: [
        { name: "origin", url: upstream, allow_force: false, allow_delete: false },
        { name: "gone", url: join(t.dir, "does-not-exist.git"), allow_force: false, allow_delete: false },
      ],
      secretsEnv: {},
    });
  });
  afterAll(() => {
    srv?.stop();
    t.cleanup();
  });

  test("clone, then pull sees a commit made upstream after the clone", async () => {
    const clone = join(t.dir, "clone");
    await ok(sh(["git", "clone", "-q", `${srv.base}/origin.git`, clone], { env }), "clone");
    expect((await sh(["git", "log", "--format=%s"], { cwd: clone, env })).stdout.trim()).toBe("initial");
    expect((await sh(["git", "branch", "--show-current"], { cwd: clone, env })).stdout.trim()).toBe("main");

    // Someone else pushes to the upstream directly.
    const other = join(t.dir, "other");
    await ok(sh(["git", "clone", "-q", upstream, other], { env }), "clone upstream");
    writeFileSync(join(other, "NEW.md"), "new\n");
    await ok(sh(["git", "add", "."], { cwd: other, env }), "add");
    await ok(sh(["git", "commit", "-qm", "from elsewhere"], { cwd: other, env }), "commit");
    await ok(sh(["git", "push", "-q", "origin", "main"], { cwd: other, env }), "push upstream");

    await ok(sh(["git", "pull", "-q", "--ff-only"], { cwd: clone, env }), "pull");
    expect((await sh(["git", "log", "-1", "--format=%s"], { cwd: clone, env })).stdout.trim()).toBe("from elsewhere");
    // The upstream snapshot namespace is never advertised to the bottle.
    const ls = (await ok(sh(["git", "ls-remote", `${srv.base}/origin.git`], { env }), "ls-remote")).stdout;
    expect(ls).toContain("refs/heads/main");
    expect(ls).not.toContain("refs/upstream/");
  });

  test("an unreachable upstream fails the fetch with a clear message", async () => {
    const r = await sh(["git", "ls-remote", `${srv.base}/gone.git`], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("git upstream 'gone' is unreachable");
  });

  test("a branch deleted upstream disappears from the mirror (never stale)", async () => {
    const other = join(t.dir, "other");
    await ok(sh(["git", "push", "-q", "origin", "main:refs/heads/temp"], { cwd: other, env }), "push temp");
    expect((await sh(["git", "ls-remote", `${srv.base}/origin.git`], { env })).stdout).toContain("refs/heads/temp");
    await ok(sh(["git", "push", "-q", "origin", ":refs/heads/temp"], { cwd: other, env }), "delete temp");
    expect((await sh(["git", "ls-remote", `${srv.base}/origin.git`], { env })).stdout).not.toContain("refs/heads/temp");
    expect(Object.keys(await refs(join(t.dir, "state", "git", "origin.git"), env))).not.toContain("refs/heads/temp");
  });

  test("unknown repositories, dumb HTTP and wrong methods are refused", async () => {
    expect((await fetch(`${srv.base}/nope.git/info/refs?service=git-upload-pack`)).status).toBe(404);
    expect((await fetch(`${srv.base}/origin.git/info/refs`)).status).toBe(403);
    expect((await fetch(`${srv.base}/origin.git/HEAD`)).status).toBe(404);
    expect((await fetch(`${srv.base}/../state/git/origin.git/info/refs?service=git-upload-pack`)).status).toBe(404);
    expect((await fetch(`${srv.base}/origin.git/info/refs?service=git-upload-archive`)).status).toBe(403);
    expect((await fetch(`${srv.base}/origin.git/git-upload-pack`)).status).toBe(405);
  });
});
