import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { accessEnv } from "../../../src/git/access.ts";
import { cgiEnv, serveCgi } from "../../../src/git/cgi.ts";
import { baseEnv } from "../../../src/git/exec.ts";
import { clientEnv, makeUpstream, ok, refs, serveVhost, sh, tempDir } from "./harness.ts";

// Upstream over https with a token from a host variable (token_ref). The
// test upstream is git http-backend behind Bun.serve with TLS (a certificate
// made here for 127.0.0.1) that demands Basic auth with that token. Every git
// trace the gate's children can produce is switched on, and the token must
// appear in none of the output the pusher sees nor in the gate's log.
describe("git vhost: https upstream with a token", () => {
  const t = tempDir();
  const env = clientEnv(t.dir);
  const TOKEN = "tok_" + crypto.randomUUID().replace(/-/g, "");
  let upstream: string;
  let https: ReturnType<typeof Bun.serve>;
  let srv: { base: string; stop: () => void };
  let certFile = "";
  const seen: string[] = [];
  const gateLog: string[] = [];

  beforeAll(async () => {
    upstream = await makeUpstream(t.dir, env, "remote.git");
    const key = join(t.dir, "tls.key");
    const cert = join(t.dir, "tls.crt");
    await ok(
      sh(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
          "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        { env },
      ),
      "openssl",
    );
    certFile = cert;
    const expected = "Basic " + Buffer.from(`x-access-token:${TOKEN}`).toString("base64");
    https = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") },
      async fetch(req) {
        const auth = req.headers.get("authorization");
        seen.push(auth === null ? "none" : auth === expected ? "token" : "wrong");
        if (auth !== expected) {
          return new Response("auth required\n", { status: 401, headers: { "www-authenticate": 'Basic realm="test"' } });
        }
        const path = new URL(req.url).pathname;
        const e = cgiEnv(req, { projectRoot: t.dir, pathInfo: path, remoteUser: "tester" }, baseEnv());
        return (await serveCgi(["git", "http-backend"], e, req, () => {})).response;
      },
    });
    const url = `https://127.0.0.1:${https.port}/remote.git`;
    srv = serveVhost({
      stateDir: join(t.dir, "state"),
      slug: "dev-tok01",
      upstreams: [
        { name: "origin", url, token_ref: "TEST_GIT_TOKEN", allow_force: false, allow_delete: false },
        { name: "badtoken", url, token_ref: "WRONG_TOKEN", allow_force: false, allow_delete: false },
      ],
      secretsEnv: { TEST_GIT_TOKEN: TOKEN, WRONG_TOKEN: "not-the-token" },
      env: {
        ...baseEnv(),
        GIT_SSL_CAINFO: cert,
        GIT_TRACE: "1",
        GIT_TRACE_CURL: "1",
        GIT_CURL_VERBOSE: "1",
        GIT_TRACE_PACKET: "1",
      },
      log: (m) => gateLog.push(m),
    });
  }, 20_000);
  afterAll(() => {
    srv?.stop();
    https?.stop(true);
    t.cleanup();
  });

  test("fetch and push use the token, and no trace or message ever shows it", async () => {
    const dir = join(t.dir, "work");
    const clone = await ok(sh(["git", "clone", `${srv.base}/origin.git`, dir], { env }), "clone");
    writeFileSync(join(dir, "x.txt"), "x\n");
    await ok(sh(["git", "add", "."], { cwd: dir, env }), "add");
    await ok(sh(["git", "commit", "-qm", "over https"], { cwd: dir, env }), "commit");
    const head = (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
    const push = await ok(sh(["git", "push", "origin", "main"], { cwd: dir, env }), "push");
    expect((await refs(upstream, env))["refs/heads/main"]).toBe(head);
    expect(seen).toContain("token");
    expect(seen).not.toContain("wrong");
    // The hook's traced `git push` output reaches the pusher as "remote:"
    // lines: it is there (so this check can fail) but without the token.
    expect(push.stderr).toContain("trace");
    for (const text of [clone.stdout, clone.stderr, push.stdout, push.stderr, gateLog.join("\n")]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString("base64"));
    }
    // Nor in any file of the mirror.
    const grep = await sh(["grep", "-r", "-l", TOKEN, join(t.dir, "state")], { env });
    expect(grep.stdout).toBe("");
  });

  test("git's own curl and trace output redacts the credential the helper supplies", async () => {
    const url = `https://127.0.0.1:${https.port}/remote.git`;
    const r = await sh(["git", "ls-remote", url], {
      env: {
        ...baseEnv(),
        HOME: t.dir,
        GIT_SSL_CAINFO: certFile,
        GIT_TRACE: "1",
        GIT_TRACE_CURL: "1",
        GIT_CURL_VERBOSE: "1",
        ...accessEnv({ name: "origin", url, tokenRef: "TEST_GIT_TOKEN" }, TOKEN),
      },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("refs/heads/main");
    // The header was sent (the server saw the token) and traced redacted.
    expect(r.stderr).toMatch(/Authorization: Basic <redacted>/i);
    expect(r.stderr).not.toContain(TOKEN);
    expect(r.stderr).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString("base64"));
  });

  test("a wrong token fails the fetch with a clear message", async () => {
    const r = await sh(["git", "ls-remote", `${srv.base}/badtoken.git`], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("git upstream 'badtoken' is unreachable");
    expect(r.stderr).not.toContain("not-the-token");
  });
});
