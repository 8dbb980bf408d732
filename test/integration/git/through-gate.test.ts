import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startGate, type RunningGate } from "../../../src/gate/server.ts";
import { gitVhostFactory } from "../../../src/git/vhost.ts";
import type { GatePolicy } from "../../../src/gate/types.ts";
import { clientEnv, makeUpstream, ok, refs, sh, tempDir } from "./harness.ts";

// git.bottle.internal through the real gate: git's http.proxy points at the
// gate's TCP listener (as the bottle's HTTP_PROXY points at the relay), the
// gate dispatches the internal host to the git vhost built from its policy,
// and the DLP values come from the gate's secrets and placeholders.
describe("git vhost through the gate", () => {
  const t = tempDir();
  const env = clientEnv(t.dir);
  const PLACEHOLDER = "ghp_" + "P".repeat(36);
  const BOTTLE_SECRET = "s3cr3t-" + crypto.randomUUID();
  let upstream: string;
  let gate: RunningGate;
  let proxyEnv: Record<string, string>;

  beforeAll(async () => {
    upstream = await makeUpstream(t.dir, env);
    const policy: GatePolicy = {
      version: 1,
      slug: "dev-gate1",
      routes: [],
      git: [{ name: "origin", url: upstream, allow_force: false, allow_delete: false }],
      supervise: false,
      placeholders: { GH_TOKEN: PLACEHOLDER },
    };
    gate = await startGate({
      stateDir: join(t.dir, "state"),
      policy,
      secrets: { credentials: { GH_TOKEN: "ghp_" + "R".repeat(36) }, secrets: [{ name: "DB_PASSWORD", value: BOTTLE_SECRET }] },
      listen: "127.0.0.1:0",
      socket: false,
      vhosts: { "git.bottle.internal": { factory: gitVhostFactory, layer: "git" } },
    });
    proxyEnv = { ...env, http_proxy: `http://127.0.0.1:${gate.port}`, HTTP_PROXY: `http://127.0.0.1:${gate.port}`, NO_PROXY: "", no_proxy: "" };
  }, 20_000);
  afterAll(async () => {
    await gate?.close();
    t.cleanup();
  });

  test("clone, a blocked push (the bottle's own secret) and a clean push, all through the gate", async () => {
    const dir = join(t.dir, "work");
    await ok(sh(["git", "clone", "-q", "http://git.bottle.internal/origin.git", dir], { env: proxyEnv }), "clone via gate");
    const parent = (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();

    writeFileSync(join(dir, "config.env"), `DB_PASSWORD=${BOTTLE_SECRET}\n`);
    await ok(sh(["git", "add", "."], { cwd: dir, env }), "add");
    await ok(sh(["git", "commit", "-qm", "config"], { cwd: dir, env }), "commit");
    const blocked = await sh(["git", "push", "origin", "main"], { cwd: dir, env: proxyEnv });
    expect(blocked.code).not.toBe(0);
    expect(blocked.stderr).toContain("push rejected by the secret scan");
    expect(blocked.stderr).toContain("file config.env");
    expect(blocked.stderr).not.toContain(BOTTLE_SECRET);
    expect((await refs(upstream, env))["refs/heads/main"]).toBe(parent);

    // The placeholder of a credential is blocked too.
    await ok(sh(["git", "reset", "-q", "--hard", parent], { cwd: dir, env }), "reset");
    writeFileSync(join(dir, "ci.yml"), `token: ${PLACEHOLDER}\n`);
    await ok(sh(["git", "add", "."], { cwd: dir, env }), "add");
    await ok(sh(["git", "commit", "-qm", "ci"], { cwd: dir, env }), "commit");
    const placeholder = await sh(["git", "push", "origin", "main"], { cwd: dir, env: proxyEnv });
    expect(placeholder.code).not.toBe(0);
    expect(placeholder.stderr).toContain("file ci.yml");

    await ok(sh(["git", "reset", "-q", "--hard", parent], { cwd: dir, env }), "reset");
    writeFileSync(join(dir, "ok.txt"), "fine\n");
    await ok(sh(["git", "add", "."], { cwd: dir, env }), "add");
    await ok(sh(["git", "commit", "-qm", "fine"], { cwd: dir, env }), "commit");
    const head = (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
    await ok(sh(["git", "push", "-q", "origin", "main"], { cwd: dir, env: proxyEnv }), "push via gate");
    expect((await refs(upstream, env))["refs/heads/main"]).toBe(head);

    // Every exchange is in the gate's audit log under the git layer.
    const audit = readFileSync(join(t.dir, "state", "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const git = audit.filter((a) => a.host === "git.bottle.internal");
    expect(git.length).toBeGreaterThan(0);
    expect(git.every((a) => a.layer === "git")).toBe(true);
    expect(git.some((a) => a.path?.includes("/origin.git/git-receive-pack"))).toBe(true);
    // The two refused pushes are deny lines written by the hook (git answers
    // a refused push with 200, so the request's own line says allow). They
    // name the rule and the commit, never the value or the file.
    const denies = git.filter((a) => a.decision === "deny" && a.path === "/origin.git/git-receive-pack");
    expect(denies.map((a) => a.reason)).toEqual([
      expect.stringMatching(/^git: push refused by the secret scan: rule \S*DB_PASSWORD\S* in a file of commit [0-9a-f]{12}$/),
      expect.stringMatching(/^git: push refused by the secret scan: rule \S*GH_TOKEN\S* in a file of commit [0-9a-f]{12}$/),
    ]);
    expect(denies.every((a) => a.layer === "git" && a.bottle === "dev-gate1")).toBe(true);
    const text = readFileSync(join(t.dir, "state", "audit.jsonl"), "utf8");
    expect(text).not.toContain(BOTTLE_SECRET);
    expect(text).not.toContain(PLACEHOLDER);
    expect(text).not.toContain("config.env");
  }, 60_000);

  test("a push the ref rules refuse (non-fast-forward) is a deny line too", async () => {
    const dir = join(t.dir, "work");
    const mark = readFileSync(join(t.dir, "state", "audit.jsonl"), "utf8").length;
    await ok(sh(["git", "commit", "-q", "--amend", "-m", "rewritten"], { cwd: dir, env }), "amend");
    const forced = await sh(["git", "push", "-f", "origin", "main"], { cwd: dir, env: proxyEnv });
    expect(forced.code).not.toBe(0);
    const lines = readFileSync(join(t.dir, "state", "audit.jsonl"), "utf8").slice(mark).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.filter((a) => a.decision === "deny")).toEqual([
      expect.objectContaining({ layer: "git", path: "/origin.git/git-receive-pack", reason: "git: push refused by the ref rules of 'origin' (1 ref)" }),
    ]);
  }, 60_000);

  test("the git vhost's own refusals are audited as denies, its answers as allows", async () => {
    const audit = () => readFileSync(join(t.dir, "state", "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    // An upstream the bottle does not have: git's own client, 404 from the vhost.
    const missing = await sh(["git", "ls-remote", "http://git.bottle.internal/nope.git"], { env: proxyEnv });
    expect(missing.code).not.toBe(0);
    expect(audit().findLast((a) => a.path === "/nope.git/info/refs")).toMatchObject({
      host: "git.bottle.internal",
      decision: "deny",
      layer: "git",
      status: 404,
      reason: "git.bottle.internal answered 404",
    });
    // Dumb HTTP (info/refs without a service): the vhost's 403 blocked: answer.
    const dumb = await sh(["curl", "-s", "-x", `http://127.0.0.1:${gate.port}`, "http://git.bottle.internal/origin.git/info/refs"], { env });
    expect(dumb.stdout).toStartWith("blocked: only git smart HTTP");
    expect(audit().at(-1)).toMatchObject({ path: "/origin.git/info/refs", decision: "deny", layer: "git", status: 403 });
    // What it served stays an allow.
    await ok(sh(["git", "ls-remote", "http://git.bottle.internal/origin.git"], { env: proxyEnv }), "ls-remote via gate");
    expect(audit().findLast((a) => a.path === "/origin.git/info/refs")).toMatchObject({ decision: "allow", layer: "git", status: 200, reason: null });
  }, 60_000);
});
