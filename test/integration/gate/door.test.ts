import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { DOOR_HELLO_PREFIX, doorHello, newDoorToken } from "../../../src/gate/door.ts";
import { auditLines, route, startEnv, type Env } from "./harness.ts";

// The gate's TCP door (src/gate/door.ts) from the attacker's side: a host
// process that can reach the port (any local user on a Mac's loopback, any
// container on the Linux docker bridge) but does not hold the bottle's
// token. Each refusal is read on both sides: the client got not one byte
// back, the upstream received nothing, and the audit has the refusal.

const TOKEN = newDoorToken();
const HELLO = doorHello(TOKEN);
let env: Env;
let doorPort = 0;

beforeAll(async () => {
  env = await startEnv((up) => [route("up.test", { ports: [up.httpPort] })], {
    extra: { door: { host: "127.0.0.1", port: 0, token: TOKEN }, limits: { doorTokenTimeoutMs: 400 } },
  });
  doorPort = env.gate.doorPort!;
});
afterAll(async () => {
  await env.close();
});

const request = () => `GET http://up.test:${env.up.httpPort}/through-the-door HTTP/1.1\r\nHost: up.test\r\nConnection: close\r\n\r\n`;

// Writes the given pieces with a pause between them, then reads until the
// gate closes the connection (or 5 s pass). What came back, and when.
function knock(pieces: (string | Buffer)[], gapMs = 0): Promise<{ reply: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(doorPort, "127.0.0.1");
    let reply = "";
    const done = () => resolve({ reply, closedAfterMs: Date.now() - t0 });
    const guard = setTimeout(() => {
      s.destroy();
      done();
    }, 5000);
    s.on("data", (d) => (reply += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(guard);
      done();
    });
    s.on("connect", async () => {
      for (const p of pieces) {
        if (s.destroyed) return;
        s.write(p);
        if (gapMs) await Bun.sleep(gapMs);
      }
    });
  });
}

const doorDenials = () => auditLines(env).filter((a) => a.decision === "deny" && String(a.reason).startsWith("door: "));
const upstreamHits = () => env.up.seen.filter((s) => s.path === "/through-the-door").length;

describe("gate: the TCP door", () => {
  test("with the token first, the request is served (the same gate, the same policy)", async () => {
    const r = await knock([Buffer.concat([HELLO, Buffer.from(request())])]);
    expect(r.reply).toStartWith("HTTP/1.1 200 ");
    expect(upstreamHits()).toBe(1);
    // The token in pieces, within the time allowed, is fine too.
    const pieces = [HELLO.subarray(0, 7), HELLO.subarray(7, 40), HELLO.subarray(40), request()];
    expect((await knock(pieces, 20)).reply).toStartWith("HTTP/1.1 200 ");
    expect(upstreamHits()).toBe(2);
  });

  const refusals: [string, () => (string | Buffer)[], number, RegExp][] = [
    ["no token: a plain proxy request", () => [request()], 0, /^door: wrong door token from 127\.0\.0\.1:\d+$/],
    ["a wrong token of the right length", () => [Buffer.concat([doorHello(newDoorToken()), Buffer.from(request())])], 0, /^door: wrong door token/],
    ["the right token but one digit", () => [Buffer.concat([flipLast(HELLO), Buffer.from(request())])], 0, /^door: wrong door token/],
    ["the token without its prefix", () => [`${TOKEN}\n${request()}`], 0, /^door: wrong door token/],
    ["nothing at all", () => [], 0, /^door: no door token within 400 ms \(0 bytes\)/],
    ["the right token, a byte every 50 ms (slower than allowed)", () => [...HELLO].map((b) => Buffer.from([b])), 50, /^door: no door token within 400 ms \(\d+ bytes\)/],
    ["half the token, then the connection closed", () => [HELLO.subarray(0, 30)], 0, /^door: (connection closed before the door token \(30 bytes\)|no door token)/],
  ];
  for (const [name, pieces, gap, reason] of refusals) {
    test(`refused: ${name}`, async () => {
      const deniedBefore = doorDenials().length;
      const hitsBefore = upstreamHits();
      const p = pieces();
      // "Half the token, then closed": end the write side after the piece.
      const r = name.startsWith("half") ? await knockThenEnd(p) : await knock(p, gap);
      expect(r.reply).toBe(""); // not one byte back: no banner, no 403, nothing to learn
      expect(r.closedAfterMs).toBeLessThan(3000); // the gate closed it, not our guard
      expect(upstreamHits()).toBe(hitsBefore);
      const denied = doorDenials().slice(deniedBefore);
      expect(denied).toHaveLength(1);
      expect(String(denied[0]!.reason)).toMatch(reason);
      expect(denied[0]).toMatchObject({ layer: "gate", host: "-", method: "-" });
      // The audit names the refusal, never the bytes the peer sent.
      expect(JSON.stringify(denied[0])).not.toContain(TOKEN);
    });
  }

  test("the gate keeps serving the door after the refusals", async () => {
    expect((await knock([HELLO, request()])).reply).toStartWith("HTTP/1.1 200 ");
  });

  test("the hello is fixed-length: a versioned prefix and 64 hex digits", () => {
    expect(HELLO.toString()).toBe(`${DOOR_HELLO_PREFIX}${TOKEN}\n`);
    expect(() => doorHello("short")).toThrow();
  });
});

function flipLast(b: Buffer): Buffer {
  const c = Buffer.from(b);
  const i = c.length - 2; // the last hex digit (before the newline)
  c[i] = c[i] === 0x30 ? 0x31 : 0x30;
  return c;
}

function knockThenEnd(pieces: (string | Buffer)[]): Promise<{ reply: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = net.connect(doorPort, "127.0.0.1");
    let reply = "";
    s.on("data", (d) => (reply += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => resolve({ reply, closedAfterMs: Date.now() - t0 }));
    s.on("connect", () => {
      for (const p of pieces) s.write(p);
      s.end();
    });
  });
}
