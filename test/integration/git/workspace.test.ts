import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { clientEnv, ok, refs, serveVhost, sh, tempDir } from "./harness.ts";

// The local workspace: `up` ran inside a git repository, the bottle's origin
// is that host repository through the gate, and accepted pushes land under
// refs/heads/bottle/<slug>/ without touching the user's own branches.
describe("git vhost: local workspace", () => {
  const t = tempDir();
  const env = clientEnv(t.dir);
  const host = join(t.dir, "host-repo");
  const slug = "dev-ws123";
  let srv: { base: string; stop: () => void };
  let hostMain = "";

  beforeAll(async () => {
    await ok(sh(["git", "init", "-q", "-b", "main", host], { env }), "init host");
    writeFileSync(join(host, "app.txt"), "v1\n");
    await ok(sh(["git", "add", "."], { cwd: host, env }), "add");
    await ok(sh(["git", "commit", "-qm", "host work"], { cwd: host, env }), "commit");
    // Another bottle already pushed here: it must stay invisible to this one.
    await ok(sh(["git", "branch", "bottle/other-zzzzz/spy"], { cwd: host, env }), "branch");
    hostMain = (await sh(["git", "rev-parse", "main"], { cwd: host, env })).stdout.trim();
    srv = serveVhost({ stateDir: join(t.dir, "state"), slug, upstreams: [], workspace: host, secretsEnv: {} });
  });
  afterAll(() => {
    srv?.stop();
    t.cleanup();
  });

  test("pushes land in refs/heads/bottle/<slug>/ and never touch the user's branches", async () => {
    const dir = join(t.dir, "bottle-copy");
    await ok(sh(["git", "clone", "-q", `${srv.base}/workspace.git`, dir], { env }), "clone");
    expect((await sh(["git", "branch", "-r"], { cwd: dir, env })).stdout).not.toContain("spy");
    writeFileSync(join(dir, "app.txt"), "v2 from the bottle\n");
    await ok(sh(["git", "commit", "-qam", "bottle change"], { cwd: dir, env }), "commit");
    const first = (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
    const r = await ok(sh(["git", "push", "origin", "main"], { cwd: dir, env }), "push");
    expect(r.stderr).toContain(`refs/heads/bottle/${slug}/main`);

    let hostRefs = await refs(host, env);
    expect(hostRefs[`refs/heads/bottle/${slug}/main`]).toBe(first);
    expect(hostRefs["refs/heads/main"]).toBe(hostMain);
    // The user's checkout is untouched.
    expect((await sh(["git", "status", "--porcelain"], { cwd: host, env })).stdout).toBe("");

    // The bottle sees its own branch as origin/main, so a second push is a
    // plain fast-forward.
    await ok(sh(["git", "fetch", "-q"], { cwd: dir, env }), "fetch");
    expect((await sh(["git", "rev-parse", "origin/main"], { cwd: dir, env })).stdout.trim()).toBe(first);
    writeFileSync(join(dir, "app.txt"), "v3\n");
    await ok(sh(["git", "commit", "-qam", "more"], { cwd: dir, env }), "commit");
    const second = (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
    await ok(sh(["git", "push", "-q", "origin", "main", "HEAD:refs/heads/topic"], { cwd: dir, env }), "push 2");
    hostRefs = await refs(host, env);
    expect(hostRefs[`refs/heads/bottle/${slug}/main`]).toBe(second);
    expect(hostRefs[`refs/heads/bottle/${slug}/topic`]).toBe(second);
    expect(hostRefs["refs/heads/main"]).toBe(hostMain);
    expect(hostRefs).not.toHaveProperty("refs/heads/topic");
  });

  test("tags and rewrites of the bottle's branch are refused", async () => {
    const dir = join(t.dir, "bottle-copy");
    const tag = await sh(["git", "push", "origin", "HEAD:refs/tags/v1"], { cwd: dir, env });
    expect(tag.code).not.toBe(0);
    expect(tag.stderr).toContain("only branches can be pushed to the workspace");
    await ok(sh(["git", "commit", "-q", "--amend", "-m", "rewrite"], { cwd: dir, env }), "amend");
    const force = await sh(["git", "push", "--force", "origin", "main"], { cwd: dir, env });
    expect(force.code).not.toBe(0);
    expect(force.stderr).toContain("allow_force: false");
    expect(await refs(host, env)).not.toHaveProperty("refs/tags/v1");
  });
});
