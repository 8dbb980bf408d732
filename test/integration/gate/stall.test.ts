import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { auditLines, connectTunnel, route, startEnv, type Env } from "./harness.ts";
import { clientHello } from "./hello.ts";
import { Received } from "./raw-upstream.ts";

// A client that stalls holds a connection and what the gate buffered for
// it: a stalled request body times out like a stalled head (408), and a
// connection the gate is done with is let go even when the client never
// reads the answer and keeps writing. Real sockets, the gate in-process with
// short limits.

let env: Env;
beforeAll(async () => {
  env = await startEnv(
    (up) => [
      route("up.test", { ports: [up.httpPort, up.httpsPort] }),
      route("other.test", { ports: [up.httpPort], dlp: "off" }),
    ],
    { extra: { limits: { bodyTimeoutMs: 400, headerTimeoutMs: 1000 } } },
  );
});
afterAll(async () => {
  await env.close();
});

async function client(): Promise<{ sock: net.Socket; got: Received }> {
  const sock = net.connect(env.gate.port!, "127.0.0.1");
  await new Promise<void>((r) => sock.once("connect", () => r()));
  return { sock, got: new Received(sock) };
}

const waitConnections = async (n: number, ms: number) => {
  const until = Date.now() + ms;
  while (env.gate.stats().connections > n && Date.now() < until) await Bun.sleep(20);
  return env.gate.stats().connections;
};

describe("gate: stalled bodies and clients that never let go", () => {
  for (const [name, host, framing, part] of [
    ["a Content-Length body on a DLP route", "up.test", "Content-Length: 1000\r\n", "x".repeat(500)],
    ["a chunked body on a DLP route", "up.test", "Transfer-Encoding: chunked\r\n", "10\r\n0123456789abcdef\r\n"],
    ["a chunked body on a route without DLP", "other.test", "Transfer-Encoding: chunked\r\n", "10\r\n0123456789abcdef\r\n"],
  ] as const) {
    test(`${name} that stalls half-way gets a 408 and goes nowhere`, async () => {
      const seen = env.up.seen.length;
      const c = await client();
      const t0 = Date.now();
      c.sock.write(`POST http://${host}:${env.up.httpPort}/stall HTTP/1.1\r\nHost: ${host}:${env.up.httpPort}\r\n${framing}\r\n${part}`);
      const text = await c.got.waitFor("\r\n\r\n", 5000);
      const took = Date.now() - t0;
      c.sock.destroy();
      expect(text).toStartWith("HTTP/1.1 408 ");
      expect(took).toBeLessThan(3000);
      expect(took).toBeGreaterThanOrEqual(350);
      // No complete request reached the upstream.
      await Bun.sleep(100);
      expect(env.up.seen.length).toBe(seen);
      expect(auditLines(env).findLast((l) => l.path === "/stall")).toMatchObject({ decision: "deny", status: 408, layer: "gate" });
    });
  }

  test("a body that keeps coming, slowly, is not cut", async () => {
    const c = await client();
    c.sock.write(`POST http://up.test:${env.up.httpPort}/drip HTTP/1.1\r\nHost: up.test:${env.up.httpPort}\r\nContent-Length: 6\r\nConnection: close\r\n\r\n`);
    for (const b of "abcdef") {
      await Bun.sleep(250);
      c.sock.write(b);
    }
    const text = await c.got.waitFor('"bodyLength":6', 5000);
    c.sock.destroy();
    expect(text).toStartWith("HTTP/1.1 200 ");
  });

  test("a client that keeps writing after its refusal is disconnected, not held", async () => {
    await waitConnections(0, 3000);
    const c = await client();
    // An oversized head, a megabyte of it at once: 431, then the gate is
    // done with this connection.
    c.sock.write(`GET http://up.test:${env.up.httpPort}/h HTTP/1.1\r\nHost: up.test\r\n` + "a:b\r\n".repeat(200_000));
    await c.got.waitFor("431", 3000);
    // The client never reads its close and goes on writing.
    const filler = "a:b\r\n".repeat(10_000);
    for (let i = 0; i < 100 && !c.got.closed; i++) {
      c.sock.write(filler);
      await Bun.sleep(10);
    }
    expect(c.got.text()).toStartWith("HTTP/1.1 431 ");
    expect(await waitConnections(0, 4000)).toBe(0);
    c.sock.destroy();
  });

  // The TLS handshake of a terminated tunnel is the bottle's to pace: all
  // of a ClientHello but its last byte, then nothing (or a byte now and
  // then). It is bounded like a head: each such tunnel holds one of the
  // gate's connections, and enough of them would shut the bottle's own
  // clean requests out.
  test("a terminated tunnel whose TLS handshake stalls is closed, with one audit line", async () => {
    const hello = clientHello("up.test");
    const { sock, response } = await connectTunnel(env.gate.port!, `up.test:${env.up.httpsPort}`);
    expect(response).toStartWith("HTTP/1.1 200");
    let closedAt = 0;
    sock.once("close", () => (closedAt = Date.now()));
    const t0 = Date.now();
    // A drip: a byte every 100 ms, never the last one.
    for (let i = 0; i < hello.length - 1 && !closedAt && Date.now() - t0 < 4000; i++) {
      sock.write(hello.subarray(i, i + 1));
      await Bun.sleep(100);
    }
    while (!closedAt && Date.now() - t0 < 4000) await Bun.sleep(20);
    sock.destroy();
    expect(closedAt).toBeGreaterThan(0);
    expect(closedAt - t0).toBeGreaterThanOrEqual(900);
    expect(closedAt - t0).toBeLessThan(3000);
    const lines = auditLines(env).filter((l) => l.host === "up.test" && l.method === "CONNECT" && l.decision === "deny");
    expect(lines.map((l) => l.reason)).toEqual(["TLS handshake not finished in time"]);
  });
});
