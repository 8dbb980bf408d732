import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditLines, BIG_SHA, curl, route, sha, startEnv, type Env } from "./harness.ts";

// Allow / deny / SSRF / IP literals / byte-exact transfers, with curl as the
// client and real HTTPS upstreams on 127.0.0.1.

let env: Env;
beforeAll(async () => {
  env = await startEnv((up) => [
    route("up.test", { ports: [up.httpsPort, up.httpPort], methods: ["GET", "POST", "HEAD"] }),
    route("pass.test", { ports: [up.httpsPort], tls: "passthrough" }),
    // Resolves to 127.0.0.1 but may not reach it: no allow_private.
    route("localhost", { ports: [up.httpsPort, up.httpPort], allow_private: false }),
  ]);
});
afterAll(async () => {
  await env.close();
});

describe("gate: allow and deny", () => {
  test("https GET through a terminated tunnel reaches the upstream, and is audited", async () => {
    const r = await curl(env, [`https://up.test:${env.up.httpsPort}/hello?x=1`, "-H", "X-Probe: 1"]);
    expect(r.status).toBe(200);
    expect(r.connect).toBe(200);
    const seen = JSON.parse(r.body);
    expect(seen.path).toBe("/hello?x=1");
    expect(seen.headers["x-probe"]).toBe("1");
    expect(seen.headers["host"]).toBe(`up.test:${env.up.httpsPort}`);
    expect(seen.headers["proxy-connection"]).toBeUndefined();
    const lines = auditLines(env);
    const get = lines.findLast((l) => l.method === "GET" && l.path === "/hello")!;
    expect(get).toMatchObject({
      bottle: "test-abcde",
      host: "up.test",
      port: env.up.httpsPort,
      decision: "allow",
      reason: null,
      layer: "policy",
      status: 200,
      bytes_out: 0,
    });
    expect(get.bytes_in as number).toBeGreaterThan(r.body.length);
    expect(Date.now() - Date.parse(get.time as string)).toBeLessThan(60_000);
    expect(lines.some((l) => l.method === "CONNECT" && l.host === "up.test" && l.decision === "allow" && l.status === 200)).toBe(true);
  });

  test("plain http absolute-form request is forwarded with the URL's authority as Host", async () => {
    const r = await curl(env, [`http://up.test:${env.up.httpPort}/plain`, "-H", "Host: evil.test"]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).headers.host).toBe(`up.test:${env.up.httpPort}`);
  });

  test("host not in the allowlist: 403 blocked, over http and CONNECT", async () => {
    const a = await curl(env, [`http://nope.test:${env.up.httpPort}/`]);
    expect(a.status).toBe(403);
    expect(a.body).toStartWith("blocked: host not in allowlist: nope.test");
    // The refusal says how to get the host allowed (this bottle has no
    // supervise tool: the operator's command, with this bottle's slug).
    expect(a.body).toBe("blocked: host not in allowlist: nope.test (the operator can allow it: claude-bottle allow test-abcde nope.test)\n");
    // The audit keeps the reason alone.
    expect(auditLines(env).findLast((x) => x.method === "GET" && x.host === "nope.test")!.reason).toBe("host not in allowlist: nope.test");
    const b = await curl(env, [`https://nope.test:${env.up.httpsPort}/`]);
    expect(b.connect).toBe(403);
    expect(b.stderr).toContain("CONNECT tunnel failed, response 403");
    const l = auditLines(env).findLast((x) => x.method === "CONNECT" && x.host === "nope.test")!;
    expect(l).toMatchObject({ decision: "deny", layer: "policy", status: 403 });
  });

  test("method and port outside the route are denied inside the tunnel", async () => {
    const r = await curl(env, ["-X", "DELETE", `https://up.test:${env.up.httpsPort}/x`]);
    expect(r.status).toBe(403);
    expect(r.body).toStartWith("blocked: method DELETE not allowed for up.test");
    const p = await curl(env, [`https://up.test:1/`]);
    expect(p.connect).toBe(403);
  });

  test("IP literal is denied", async () => {
    const r = await curl(env, [`https://127.0.0.1:${env.up.httpsPort}/`]);
    expect(r.connect).toBe(403);
    const h = await curl(env, [`http://127.0.0.1:${env.up.httpPort}/`]);
    expect(h.status).toBe(403);
    expect(h.body).toStartWith("blocked: IP literal not allowed: 127.0.0.1");
  });

  test("SSRF: an allowed name resolving to loopback is refused without allow_private", async () => {
    const before = env.up.seen.length;
    const r = await curl(env, [`http://localhost:${env.up.httpPort}/ssrf`]);
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/^blocked: localhost resolves to (127\.0\.0\.1|::1): loopback/);
    const t = await curl(env, [`https://localhost:${env.up.httpsPort}/ssrf`]);
    expect(t.status).toBe(403);
    expect(env.up.seen.length).toBe(before);
    expect(auditLines(env).findLast((l) => l.host === "localhost")).toMatchObject({ decision: "deny", layer: "ssrf" });
  });

  test("large download is byte-exact through a terminated tunnel, plain http and a passthrough tunnel", async () => {
    const p = async (url: string, extra: string[] = []) => {
      const proc = Bun.spawn(["curl", "-sS", "--proxy", env.proxy, "--cacert", env.bottleCa, ...extra, url], { stdout: "pipe" });
      const body = new Uint8Array(await new Response(proc.stdout).arrayBuffer());
      await proc.exited;
      return sha(body);
    };
    expect(await p(`https://up.test:${env.up.httpsPort}/big`)).toBe(BIG_SHA);
    expect(await p(`http://up.test:${env.up.httpPort}/big`, ["--limit-rate", "50M"])).toBe(BIG_SHA);
    // Passthrough: the client sees the upstream's own certificate.
    expect(await p(`https://pass.test:${env.up.httpsPort}/big`, ["--cacert", env.up.caPath])).toBe(BIG_SHA);
  });

  test("keep-alive: several requests on one tunnel", async () => {
    const u = `https://up.test:${env.up.httpsPort}`;
    const connects = () => auditLines(env).filter((l) => l.method === "CONNECT" && l.host === "up.test").length;
    const before = connects();
    const r = await curl(env, [`${u}/a`, "-o", "/dev/null", `${u}/b`]);
    expect(r.status).toBe(200);
    const conn = auditLines(env).filter((l) => l.method === "GET" && (l.path === "/a" || l.path === "/b"));
    expect(conn.length).toBe(2);
    expect(connects() - before).toBe(1);
  });

  test("an upstream answering before reading a large body does not deadlock the gate", async () => {
    const file = `${env.dir}/early.bin`;
    await Bun.write(file, Buffer.alloc(24 * 1024 * 1024, "z"));
    const r = await curl(env, ["--data-binary", `@${file}`, `https://up.test:${env.up.httpsPort}/early`]);
    expect(r.status).toBe(401);
    expect(r.body).toBe("early no\n");
    // The gate still serves.
    expect((await curl(env, [`https://up.test:${env.up.httpsPort}/after`])).status).toBe(200);
  });

  test("idle upstream connections are pooled across tunnels", async () => {
    const u = `https://up.test:${env.up.httpsPort}/pool`;
    await curl(env, [u, "-o", "/dev/null"]);
    const before = env.gate.stats().upstreamDials;
    for (let i = 0; i < 3; i++) expect((await curl(env, [u, "-o", "/dev/null"])).status).toBe(200);
    expect(env.gate.stats().upstreamDials).toBe(before);
    expect(env.gate.stats().pooled).toBeGreaterThanOrEqual(1);
  });

  test("upload body arrives intact (content-length and chunked)", async () => {
    const data = Buffer.alloc(3 * 1024 * 1024, "abcdefghij");
    const file = `${env.dir}/upload.bin`;
    await Bun.write(file, data);
    const a = await curl(env, ["--data-binary", `@${file}`, `https://up.test:${env.up.httpsPort}/up`]);
    expect(JSON.parse(a.body)).toMatchObject({ method: "POST", bodyLength: data.length, bodySha: sha(data) });
    const b = await curl(env, ["--data-binary", `@${file}`, "-H", "Transfer-Encoding: chunked", `http://up.test:${env.up.httpPort}/up`]);
    expect(JSON.parse(b.body)).toMatchObject({ bodyLength: data.length, bodySha: sha(data) });
  });
});
