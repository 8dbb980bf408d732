import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { crc32, deflateRawSync, gzipSync } from "node:zlib";
import { auditLines, connectTunnel, rawRequest, route, startEnv, testResolver, zipOf, type Env } from "./harness.ts";

// Every byte the bottle picks is scanned before it leaves. Each attack
// below is what a bottle can send through a real socket to a running gate;
// the recording upstream (env.up.seen) shows what arrived, the recording
// resolver what names the gate looked up (a DNS lookup is a way out too).

const SECRET = "bottle-secret-Vq7ZxP2mK9wL4nR8";
const PEM = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }) as string;
const asked: string[] = [];

let env: Env;
beforeAll(async () => {
  env = await startEnv(
    (up) => [
      route("up.test", { ports: [up.httpsPort, up.httpPort] }),
      route("*.wild.test", { ports: [up.httpsPort], tls: "passthrough" }),
      route("*.term.test", { ports: [up.httpsPort] }),
    ],
    {
      secrets: {
        credentials: {},
        secrets: [
          { name: "MY_SECRET", value: SECRET },
          { name: "DEPLOY_KEY", value: PEM },
        ],
      },
      extra: {
        resolver: async (h) => {
          asked.push(h);
          return testResolver(h);
        },
      },
    },
  );
});
afterAll(async () => {
  await env.close();
});

const te = new TextEncoder();
// RFC 4648 base32, lower case, no padding (what DNS exfiltration tools use).
function base32(bytes: Uint8Array): string {
  const A = "abcdefghijklmnopqrstuvwxyz234567";
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) out += A[(acc >>> (bits -= 5)) & 31];
  }
  return bits > 0 ? out + A[(acc << (5 - bits)) & 31] : out;
}
const b32 = base32(te.encode(SECRET));
// 32 random letters: 150 bits in a name, no digit in sight.
const letters = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => "abcdefghijklmnopqrstuvwxyz"[b % 26]).join("");

async function post(body: Uint8Array, headers: string, path = "/up") {
  const head = `POST http://up.test:${env.up.httpPort}${path} HTTP/1.1\r\nHost: up.test\r\n${headers}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return rawRequest(env.gate.port!, Buffer.concat([Buffer.from(head, "latin1"), body]));
}

function gzipNamed(data: Uint8Array, name: string): Buffer {
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length, 4);
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3]), Buffer.from(name + "\0", "latin1"), deflateRawSync(data), trailer]);
}

describe("gate: names are data, scanned before anything resolves them", () => {
  test("the bottle's secret in base32 across labels of a passthrough wildcard name: refused, never looked up", async () => {
    const name = `${b32.slice(0, 30)}.${b32.slice(30)}.wild.test`;
    const { response } = await connectTunnel(env.gate.port!, `${name}:${env.up.httpsPort}`);
    expect(response).toStartWith("HTTP/1.1 403");
    expect(response).toContain("blocked: dlp: secret:MY_SECRET in host");
    expect(asked).not.toContain(name);
  });

  test("random letters (no digit) in a passthrough wildcard name: refused, never looked up", async () => {
    const name = `${letters}.wild.test`;
    const { response } = await connectTunnel(env.gate.port!, `${name}:${env.up.httpsPort}`);
    expect(response).toContain("blocked: dlp: entropy in host");
    expect(asked).not.toContain(name);
    // A plain name under the same wildcard is looked up and tunnelled.
    const ok = await connectTunnel(env.gate.port!, `cdn.wild.test:${env.up.httpsPort}`);
    expect(ok.response).toStartWith("HTTP/1.1 200");
    ok.sock.destroy();
    expect(asked).toContain("cdn.wild.test");
  });

  test("a terminated wildcard name, the client gone before its TLS hello: refused at once and audited redacted", async () => {
    const name = `${letters}.term.test`;
    const before = auditLines(env).length;
    const { sock, response } = await connectTunnel(env.gate.port!, `${name}:${env.up.httpsPort}`);
    sock.destroy();
    expect(response).toStartWith("HTTP/1.1 403");
    // (The wildcard tunnel the test before closed may add its own line.)
    const lines = auditLines(env).slice(before).filter((l) => String(l.host).endsWith(".term.test"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: "CONNECT", host: "[redacted].term.test", decision: "deny", layer: "dlp", reason: "dlp: entropy in host" });
    expect(JSON.stringify(auditLines(env))).not.toContain(letters);
  });
});

describe("gate: the method and header names", () => {
  test("the secret as the method: refused, the upstream sees nothing", async () => {
    const before = env.up.seen.length;
    const r = await rawRequest(env.gate.port!, `${SECRET} http://up.test:${env.up.httpPort}/m HTTP/1.1\r\nHost: up.test\r\nConnection: close\r\n\r\n`);
    expect(r).toStartWith("HTTP/1.1 403");
    expect(env.up.seen.length).toBe(before);
  });

  test("the secret in base32 as a header name: refused", async () => {
    const before = env.up.seen.length;
    const r = await rawRequest(env.gate.port!, `GET http://up.test:${env.up.httpPort}/h HTTP/1.1\r\nHost: up.test\r\nX-${b32}: 1\r\nConnection: close\r\n\r\n`);
    expect(r).toStartWith("HTTP/1.1 403");
    expect(r).toContain("dlp: secret:MY_SECRET in header-name");
    expect(env.up.seen.length).toBe(before);
  });
});

describe("gate: bodies, every layer", () => {
  const dirty = te.encode(`{"note":"hello","key":"${SECRET}"}`);
  const cases: [string, () => Promise<string>][] = [
    ["gzip with no Content-Encoding", () => post(gzipSync(dirty), "Content-Type: application/octet-stream\r\n")],
    ["gzip whose FNAME carries the secret", () => post(gzipNamed(te.encode("nothing to see"), `${SECRET}.txt`), "Content-Encoding: gzip\r\n")],
    ["gzip twice, the second layer in a second Content-Encoding field", () => post(gzipSync(gzipSync(dirty)), "Content-Encoding: gzip\r\nContent-Encoding: gzip\r\n")],
    ["a zip upload", () => post(zipOf("notes.txt", dirty), "Content-Type: application/zip\r\n")],
    ["the tail of the bottle's PEM key (no BEGIN line, no first line)", () => post(te.encode(PEM.trim().split("\n").slice(2).join("\n")), "Content-Type: text/plain\r\n")],
  ];
  for (const [name, attack] of cases) {
    test(`${name}: refused, the upstream sees nothing`, async () => {
      const before = env.up.seen.length;
      const r = await attack();
      expect(r).toStartWith("HTTP/1.1 403");
      expect(r).toContain("blocked: dlp: ");
      expect(env.up.seen.length).toBe(before);
    });
  }

  test("the same shapes without a secret go through", async () => {
    const clean = te.encode(`{"note":"hello"}`);
    for (const r of [
      await post(gzipSync(clean), ""),
      await post(gzipNamed(clean, "notes.txt"), "Content-Encoding: gzip\r\n"),
      await post(gzipSync(gzipSync(clean)), "Content-Encoding: gzip\r\nContent-Encoding: gzip\r\n"),
      await post(zipOf("notes.txt", clean), ""),
    ]) {
      expect(r).toStartWith("HTTP/1.1 200");
    }
  });
});
