import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createGitVhost } from "../../../src/git/vhost.ts";
import { clientEnv, makeUpstream, ok, refs, serveVhost, sh, tempDir } from "./harness.ts";
import { keygen, startSshd, type Sshd } from "./sshd.ts";

// Upstream over ssh with a pinned host key: a real OpenSSH server on
// 127.0.0.1 (generated host key, key-only login), the gate's ssh client
// pinned with StrictHostKeyChecking=yes and a synthesized known_hosts.
describe("git vhost: ssh upstream with a pinned host key", () => {
  const t = tempDir();
  const env = clientEnv(t.dir);
  let sshd: Sshd;
  let upstream: string;
  let srv: { base: string; stop: () => void };
  let wrongKey: string;

  beforeAll(async () => {
    sshd = await startSshd(join(t.dir, "sshd"));
    upstream = await makeUpstream(t.dir, env);
    wrongKey = await keygen(join(t.dir, "impostor"));
    const url = `ssh://${sshd.user}@127.0.0.1:${sshd.port}${upstream}`;
    srv = serveVhost({
      stateDir: join(t.dir, "state"),
      slug: "dev-ssh01",
      upstreams: [
        { name: "origin", url, host_key: sshd.hostKeyPub, identity_file: sshd.clientKey, allow_force: false, allow_delete: false },
        { name: "impostor", url, host_key: wrongKey, identity_file: sshd.clientKey, allow_force: false, allow_delete: false },
      ],
      secretsEnv: {},
    });
  }, 20_000);
  afterAll(async () => {
    srv?.stop();
    await sshd?.stop();
    t.cleanup();
  });

  test("clone and a clean push reach the upstream over ssh", async () => {
    const dir = join(t.dir, "work");
    await ok(sh(["git", "clone", "-q", `${srv.base}/origin.git`, dir], { env }), "clone over ssh");
    writeFileSync(join(dir, "over-ssh.txt"), "hello over ssh\n");
    await ok(sh(["git", "add", "."], { cwd: dir, env }), "add");
    await ok(sh(["git", "commit", "-qm", "via ssh"], { cwd: dir, env }), "commit");
    const head = (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
    const r = await ok(sh(["git", "push", "origin", "main"], { cwd: dir, env }), "push over ssh");
    expect(r.stderr).toContain("forwarded to 'origin'");
    expect((await refs(upstream, env))["refs/heads/main"]).toBe(head);
  });

  test("a wrong pinned host key refuses: no fetch, no push", async () => {
    const before = await refs(upstream, env);
    const r = await sh(["git", "clone", `${srv.base}/impostor.git`, join(t.dir, "never")], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("git upstream 'impostor' is unreachable");
    expect(r.stderr).toMatch(/Host key verification failed/);
    expect(await refs(upstream, env)).toEqual(before);
  });

  test("an ssh upstream without a host key is refused up front (no trust on first use)", () => {
    expect(() =>
      createGitVhost({
        stateDir: join(t.dir, "state2"),
        slug: "dev-ssh02",
        upstreams: [{ name: "tofu", url: `ssh://${sshd.user}@127.0.0.1:${sshd.port}${upstream}`, allow_force: false, allow_delete: false }],
        secretsEnv: {},
      }),
    ).toThrow(/no host_key/);
  });
});
