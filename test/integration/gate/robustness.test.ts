import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import net from "node:net";
import { auditLines, curl, rawRequest, route, startEnv, type Env } from "./harness.ts";

// Limits and malformed input: nothing a client sends may crash the gate or
// make it read a request two ways (smuggling).

let env: Env;
beforeAll(async () => {
  env = await startEnv((up) => [route("up.test", { ports: [up.httpPort, up.httpsPort] })], {
    extra: { limits: { headerTimeoutMs: 300, maxConnections: 20 } },
  });
});
afterAll(async () => {
  await env.close();
});

const good = () => `GET http://up.test:${env.up.httpPort}/ok HTTP/1.1\r\nHost: up.test\r\nConnection: close\r\n\r\n`;

describe("gate: robustness", () => {
  test("oversized headers: 431", async () => {
    const r = await rawRequest(env.gate.port!, `GET http://up.test:${env.up.httpPort}/ HTTP/1.1\r\nHost: up.test\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`);
    expect(r).toStartWith("HTTP/1.1 431 ");
    const c = await curl(env, [`https://up.test:${env.up.httpsPort}/`, "-H", `X-Big: ${"b".repeat(70_000)}`]);
    expect(c.status).toBe(431);
  });

  test("request line too long: 414", async () => {
    const r = await rawRequest(env.gate.port!, `GET http://up.test/${"a".repeat(10_000)} HTTP/1.1\r\n\r\n`);
    expect(r).toStartWith("HTTP/1.1 414 ");
  });

  test("garbage, then a good request on a new connection: the gate is still serving", async () => {
    const garbage = [
      Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]),
      "\x16\x03\x01\x02\x00garbage-tls\r\n\r\n",
      "GET\r\n\r\n",
      "GET http://up.test/ HTTP/1.1\nHost: up.test\n\n",
      "CONNECT nonsense HTTP/1.1\r\n\r\n",
      "CONNECT up.test:99999 HTTP/1.1\r\n\r\n",
      "GET http://up.test/ HTTP/1.1\r\nHost: up.test\r\n folded\r\n\r\n",
      "GET http://[::1/ HTTP/1.1\r\n\r\n",
      "GET http://a@up.test/ HTTP/1.1\r\n\r\n",
      "POST http://up.test/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ];
    for (const g of garbage) {
      const r = await rawRequest(env.gate.port!, g, 2000);
      expect(r).toMatch(/^HTTP\/1\.1 (400|403|414|431|501|505) /);
    }
    const ok = await rawRequest(env.gate.port!, good());
    expect(ok).toStartWith("HTTP/1.1 200 ");
  });

  test("smuggling shapes are rejected with 400 and never forwarded", async () => {
    const before = env.up.seen.length;
    const shapes = [
      "Content-Length: 5\r\nTransfer-Encoding: chunked",
      "Content-Length: 5\r\nContent-Length: 6",
      "Content-Length: 5\r\nContent-Length: 5",
      "Content-Length: -5",
      "Transfer-Encoding: chunked, identity",
      "Transfer-Encoding : chunked",
    ];
    for (const h of shapes) {
      const r = await rawRequest(env.gate.port!, `POST http://up.test:${env.up.httpPort}/s HTTP/1.1\r\nHost: up.test\r\n${h}\r\n\r\n0\r\n\r\n`);
      expect(r).toMatch(/^HTTP\/1\.1 (400|501) /);
      expect(r).toContain("connection: close");
    }
    expect(env.up.seen.length).toBe(before);
  });

  test("pipelined requests on one connection are answered in order", async () => {
    const one = `GET http://up.test:${env.up.httpPort}/p1 HTTP/1.1\r\nHost: up.test\r\n\r\n`;
    const two = `GET http://up.test:${env.up.httpPort}/p2 HTTP/1.1\r\nHost: up.test\r\nConnection: close\r\n\r\n`;
    const r = await rawRequest(env.gate.port!, one + two);
    const i1 = r.indexOf('"path":"/p1"');
    const i2 = r.indexOf('"path":"/p2"');
    expect(i1).toBeGreaterThan(0);
    expect(i2).toBeGreaterThan(i1);
  });

  test("slowloris: a head that never ends is cut at the header timeout with 408", async () => {
    const t0 = Date.now();
    const r = await new Promise<string>((resolve) => {
      const s = net.connect(env.gate.port!, "127.0.0.1");
      let got = "";
      s.on("error", () => {});
      s.on("connect", () => s.write("GET http://up.test/ HTTP/1.1\r\nX-A: 1\r\n"));
      s.on("data", (d) => (got += d.toString()));
      s.on("close", () => resolve(got));
    });
    expect(r).toStartWith("HTTP/1.1 408 ");
    expect(Date.now() - t0).toBeLessThan(3000);
    const l = auditLines(env).findLast((x) => x.status === 408);
    expect(l).toMatchObject({ decision: "deny", layer: "gate", reason: "malformed request: request header timeout" });
  });

  test("connection cap: beyond it new connections get 503; freed slots are reusable; no fd leak", async () => {
    const fds = () => readdirSync("/proc/self/fd").length;
    const base = fds();
    const held: net.Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = net.connect(env.gate.port!, "127.0.0.1");
      s.on("error", () => {});
      await new Promise((r) => s.once("connect", r));
      held.push(s);
    }
    await Bun.sleep(50);
    expect(env.gate.stats().connections).toBe(20);
    const refused = await rawRequest(env.gate.port!, good());
    expect(refused).toStartWith("HTTP/1.1 503 ");
    for (const s of held) s.destroy();
    for (let i = 0; i < 50 && env.gate.stats().connections > 0; i++) await Bun.sleep(20);
    expect(env.gate.stats().connections).toBe(0);
    expect(await rawRequest(env.gate.port!, good())).toStartWith("HTTP/1.1 200 ");
    // Many short tunnels later, the fd count is back near where it was.
    for (let i = 0; i < 30; i++) await curl(env, [`https://up.test:${env.up.httpsPort}/fd`, "-o", "/dev/null"]);
    for (let i = 0; i < 50 && env.gate.stats().connections > 0; i++) await Bun.sleep(20);
    await Bun.sleep(100);
    expect(fds()).toBeLessThan(base + 10);
  });
});
