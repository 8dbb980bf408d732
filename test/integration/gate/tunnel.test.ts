import { afterAll, beforeAll, describe, expect, test } from "bun:test";


import { auditLines, connectTunnel, curl, policyOf, rawRequest, readResponse, readUntil, route, startEnv, tlsOver, type Env } from "./harness.ts";

// The CONNECT target is authoritative: Host and SNI must agree with it.
// Reload applies new rules to open tunnels without dropping them.
// bottle.internal names are served by the gate's virtual hosts.

let env: Env;
const routesFor = (port: number, methods: string[]) => [
  route("up.test", { ports: [port], methods }),
  route("other.test", { ports: [port] }),
  route("pass.test", { ports: [port], tls: "passthrough" }),
];
beforeAll(async () => {
  env = await startEnv((up) => routesFor(up.httpsPort, ["GET"]), {
    extra: {
      vhosts: {
        // Registered with its audit layer, as src/vhosts.ts does.
        "git.bottle.internal": {
          layer: "git",
          factory: (ctx) => async (req) =>
            new Response(`vhost ${new URL(req.url).pathname} ${req.method} ${ctx.policy.slug} ${req.body ? await req.text() : ""}`, {
              headers: { "x-vhost": "git" },
            }),
        },
        // A factory that declines (feature off): its name is unknown.
        "supervise.bottle.internal": () => null,
      },
    },
  });
});
afterAll(async () => {
  await env.close();
});

describe("gate: CONNECT target is authoritative", () => {
  test("a Host header inside the tunnel naming another host is denied", async () => {
    const before = env.up.seen.length;
    // curl sends the custom Host header inside the tunnel to up.test.
    const r = await curl(env, [`https://up.test:${env.up.httpsPort}/x`, "-H", `Host: other.test:${env.up.httpsPort}`]);
    expect(r.status).toBe(403);
    expect(r.body).toStartWith(`blocked: Host other.test:${env.up.httpsPort} does not match CONNECT target up.test:${env.up.httpsPort}`);
    // Same host, other port: denied too (port-aware).
    const p = await curl(env, [`https://up.test:${env.up.httpsPort}/x`, "-H", "Host: up.test"]);
    expect(p.status).toBe(403);
    expect(p.body).toContain("does not match CONNECT target");
    // Case and trailing dot are normalised, not a mismatch.
    const n = await curl(env, [`https://up.test:${env.up.httpsPort}/x`, "-H", `Host: UP.test.:${env.up.httpsPort}`]);
    expect(n.status).toBe(200);
    expect(env.up.seen.length).toBe(before + 1);
  });

  test("TLS SNI differing from the CONNECT host is refused (terminate and passthrough)", async () => {
    for (const host of ["up.test", "pass.test"]) {
      const { sock, response } = await connectTunnel(env.gate.port!, `${host}:${env.up.httpsPort}`);
      expect(response).toStartWith("HTTP/1.1 200");
      const ca = host === "up.test" ? env.bottleCa : env.up.caPath;
      const err = await tlsOver(sock, "other.test", ca).then(
        (t) => {
          t.destroy();
          return null;
        },
        (e: Error) => e,
      );
      expect(err).not.toBeNull();
      sock.destroy();
      await Bun.sleep(20);
      const l = auditLines(env).findLast((x) => x.layer === "tls" && x.host === host);
      expect(l).toMatchObject({ decision: "deny", method: "CONNECT", reason: `TLS SNI other.test does not match CONNECT target ${host}` });
    }
  });

  test("the leaf certificate names exactly the CONNECT host", async () => {
    const { sock } = await connectTunnel(env.gate.port!, `up.test:${env.up.httpsPort}`);
    const t = await tlsOver(sock, "up.test", env.bottleCa);
    const cert = t.getPeerCertificate();
    expect(cert.subjectaltname).toBe("DNS:up.test");
    expect(t.alpnProtocol).toBe("http/1.1");
    t.destroy();
  });
});

describe("gate: reload", () => {
  test("an open tunnel survives a reload and the next request on it follows the new rule", async () => {
    const { sock } = await connectTunnel(env.gate.port!, `up.test:${env.up.httpsPort}`);
    const t = await tlsOver(sock, "up.test", env.bottleCa);
    const req = (method: string) =>
      `${method} /reload HTTP/1.1\r\nHost: up.test:${env.up.httpsPort}\r\nContent-Length: 0\r\n\r\n`;
    t.write(req("POST"));
    const r1 = await readResponse(t);
    expect(r1.status).toBe(403);
    expect(r1.body).toStartWith("blocked: method POST not allowed for up.test");
    await env.gate.reload(policyOf(routesFor(env.up.httpsPort, ["GET", "POST"])));
    t.write(req("POST"));
    const r2 = await readResponse(t);
    expect(r2.status).toBe(200);
    expect(JSON.parse(r2.body).method).toBe("POST");
    // And back: the same tunnel is denied again.
    await env.gate.reload(policyOf(routesFor(env.up.httpsPort, ["GET"])));
    t.write(req("POST"));
    expect((await readResponse(t)).status).toBe(403);
    expect(t.destroyed).toBe(false);
    t.destroy();
  });
});

describe("gate: bottle.internal virtual hosts", () => {
  test("served over plain absolute-form http and over CONNECT+TLS", async () => {
    const a = await curl(env, ["http://git.bottle.internal/repo.git/info/refs"]);
    expect(a.status).toBe(200);
    expect(a.body).toBe("vhost /repo.git/info/refs GET test-abcde ");
    const b = await curl(env, ["--data-binary", "pushdata", "https://git.bottle.internal/repo.git/git-receive-pack"]);
    expect(b.status).toBe(200);
    expect(b.body).toBe("vhost /repo.git/git-receive-pack POST test-abcde pushdata");
    const l = auditLines(env).findLast((x) => x.host === "git.bottle.internal" && x.method === "POST")!;
    expect(l).toMatchObject({ decision: "allow", layer: "git", status: 200, bytes_out: 8 });
  });

  test("Expect: a vhost answers like an upstream (417 unless 100-continue, which gets an interim 100)", async () => {
    const post = (host: string, expect: string) =>
      `POST /repo.git/x HTTP/1.1\r\nHost: ${host}\r\nExpect: ${expect}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody`;
    const through = async (host: string, port: number, expect: string) => {
      const { sock } = await connectTunnel(env.gate.port!, `${host}:${port}`);
      const t = await tlsOver(sock, host, env.bottleCa);
      t.write(post(port === 443 ? host : `${host}:${port}`, expect));
      const text = await readUntil(t, "\r\n\r\n");
      t.destroy();
      return text;
    };
    // The upstream path: refused before anything reaches the upstream.
    const seen = env.up.seen.length;
    expect(await through("other.test", env.up.httpsPort, "x-custom")).toStartWith("HTTP/1.1 417 ");
    expect(env.up.seen.length).toBe(seen);
    // The vhost path, in a tunnel and over plain http: the same answer, and
    // the handler is never called.
    expect(await through("git.bottle.internal", 443, "x-custom")).toStartWith("HTTP/1.1 417 ");
    const plain = await rawRequest(env.gate.port!, post("git.bottle.internal", "x-custom").replace("POST /", "POST http://git.bottle.internal/"));
    expect(plain).toStartWith("HTTP/1.1 417 ");
    expect(plain).toContain("gate: unsupported Expect");
    const l = auditLines(env).findLast((x) => x.host === "git.bottle.internal")!;
    expect(l).toMatchObject({ decision: "deny", status: 417, layer: "gate", reason: "gate: unsupported Expect" });
    // 100-continue: the gate says go on, the vhost gets the body.
    const ok = await rawRequest(env.gate.port!, post("git.bottle.internal", "100-continue").replace("POST /", "POST http://git.bottle.internal/"));
    expect(ok).toStartWith("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ");
    expect(ok).toContain("vhost /repo.git/x POST test-abcde body");
  });

  test("an unknown or disabled internal name is 403 unknown internal host", async () => {
    for (const name of ["nope.bottle.internal", "supervise.bottle.internal"]) {
      const a = await curl(env, [`http://${name}/`]);
      expect(a.status).toBe(403);
      expect(a.body).toStartWith("blocked: unknown internal host");
      const b = await curl(env, [`https://${name}/`]);
      expect(b.connect).toBe(403);
    }
  });
});

