import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { auditLines, connectTunnel, readResponse, route, startEnv, type Env } from "./harness.ts";

// Plain HTTP inside CONNECT: `curl -p` (proxytunnel) and Node's undici
// ProxyAgent (by default, as Node's own fetch behind a proxy) tunnel http://
// URLs through CONNECT. The gate
// used to expect TLS in every tunnel and dropped them; it now serves such a
// tunnel as HTTP under the same policy: the Host must name the CONNECT
// authority, DLP applies, and (scheme http) no credential is ever injected.
// Real clients against a running gate; the recording upstream shows what
// arrived.

const SECRET = "bottle-secret-Vq7ZxP2mK9wL4nR8";
const REAL = "cred-R3alValue-0123456789abcdefXYZ";
const PH = "cred-Pl4ceHold-9876543210zyxwvuABC";
const UNDICI = join(import.meta.dir, "..", "..", "..", "node_modules", "undici", "index.js");

let env: Env;
beforeAll(async () => {
  env = await startEnv(
    (up) => [
      route("up.test", { ports: [up.httpPort, up.httpsPort] }),
      route("key.test", { ports: [up.httpPort, up.httpsPort], auth: { header: "x-api-key", scheme: "", token_ref: "KEY" } }),
    ],
    { secrets: { credentials: { KEY: REAL }, secrets: [{ name: "MY_SECRET", value: SECRET }] }, placeholders: { KEY: PH } },
  );
});
afterAll(async () => {
  await env.close();
});

async function curlP(url: string, extra: string[] = []) {
  const p = Bun.spawn(["curl", "-sS", "--max-time", "10", "-p", "--proxy", env.proxy, "-w", "\n@@%{http_code} %{http_connect}", url, ...extra], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  const i = out.lastIndexOf("\n@@");
  const [status, connect] = out.slice(i + 3).split(" ").map(Number);
  return { status: status!, connect: connect!, body: out.slice(0, i), stderr: err };
}

// undici's ProxyAgent under Node (what a bottle's Node tooling runs).
async function undici(url: string, headers: Record<string, string> = {}) {
  const script = `
    const { ProxyAgent, request } = require(${JSON.stringify(UNDICI)});
    (async () => {
      const r = await request(process.argv[1], { dispatcher: new ProxyAgent(process.argv[2]), headers: JSON.parse(process.argv[3]) });
      process.stdout.write(JSON.stringify({ status: r.statusCode, body: await r.body.text() }));
    })().catch((e) => { process.stdout.write(JSON.stringify({ error: String(e && e.message) })); });`;
  const p = Bun.spawn(["node", "-e", script, url, env.proxy, JSON.stringify(headers)], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return JSON.parse(out) as { status?: number; body?: string; error?: string };
}

describe("gate: plain HTTP inside CONNECT", () => {
  test("curl -p http://…: tunnelled, served as http, the upstream gets the request", async () => {
    const before = env.up.seen.length;
    const r = await curlP(`http://up.test:${env.up.httpPort}/via-curl?x=1`);
    expect(r.connect).toBe(200);
    expect(r.status).toBe(200);
    expect(env.up.seen.length).toBe(before + 1);
    expect(env.up.seen.at(-1)).toMatchObject({ method: "GET", path: "/via-curl?x=1" });
    expect(env.up.seen.at(-1)!.headers.host).toBe(`up.test:${env.up.httpPort}`);
    const last = auditLines(env).slice(-2);
    expect(last[0]).toMatchObject({ method: "CONNECT", host: "up.test", decision: "allow" });
    expect(last[1]).toMatchObject({ method: "GET", host: "up.test", path: "/via-curl", decision: "allow", status: 200 });
  });

  test("curl -p with keep-alive: two requests in one tunnel", async () => {
    const before = env.up.seen.length;
    const r = await curlP(`http://up.test:${env.up.httpPort}/one`, [`http://up.test:${env.up.httpPort}/two`]);
    expect(r.status).toBe(200);
    expect(env.up.seen.slice(before).map((s) => s.path)).toEqual(["/one", "/two"]);
  });

  test("undici ProxyAgent under Node: tunnelled and served", async () => {
    const before = env.up.seen.length;
    const r = await undici(`http://up.test:${env.up.httpPort}/via-undici`);
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body!).path).toBe("/via-undici");
    expect(env.up.seen.length).toBe(before + 1);
  });

  test("the same policy: DLP on the URL, no credential over plain http", async () => {
    const before = env.up.seen.length;
    const leak = await curlP(`http://up.test:${env.up.httpPort}/x?k=${SECRET}`);
    expect(leak.status).toBe(403);
    expect(leak.body).toContain("blocked: dlp: secret:MY_SECRET in query");
    const cred = await undici(`http://key.test:${env.up.httpPort}/steal`, { "x-api-key": PH });
    expect(cred.status).toBe(403);
    expect(cred.body).toBe("blocked: plain http to key.test: its credential is only sent over https\n");
    expect(env.up.seen.length).toBe(before);
  });

  test("the Host must name the CONNECT authority; no CONNECT inside", async () => {
    const before = env.up.seen.length;
    for (const [inner, status] of [
      [`GET /x HTTP/1.1\r\nHost: key.test:${env.up.httpPort}\r\n\r\n`, 403],
      [`GET http://key.test:${env.up.httpPort}/x HTTP/1.1\r\nHost: up.test:${env.up.httpPort}\r\n\r\n`, 403],
      [`CONNECT key.test:${env.up.httpsPort} HTTP/1.1\r\nHost: key.test\r\n\r\n`, 400],
    ] as const) {
      const { sock, response } = await connectTunnel(env.gate.port!, `up.test:${env.up.httpPort}`);
      expect(response).toStartWith("HTTP/1.1 200");
      sock.write(inner);
      const r = await readResponse(sock);
      expect(r.status).toBe(status);
      sock.destroy();
    }
    expect(env.up.seen.length).toBe(before);
  });

  test("https through curl -p still works (TLS inside, terminated)", async () => {
    const p = Bun.spawn(["curl", "-sS", "--max-time", "10", "-p", "--proxy", env.proxy, "--cacert", env.bottleCa, "-o", "/dev/null", "-w", "%{http_code}", `https://up.test:${env.up.httpsPort}/tls`], { stdout: "pipe", stderr: "pipe" });
    expect(await new Response(p.stdout).text()).toBe("200");
  });
});
