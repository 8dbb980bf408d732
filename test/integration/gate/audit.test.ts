import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { formatLine } from "../../../src/gate/audit-view.ts";
import { auditLines, connectTunnel, rawRequest, readUntil, route, startEnv, tlsOver, type Env } from "./harness.ts";
import { clientHello } from "./hello.ts";

// The audit is trustworthy: every refusal, whichever path refused it, is
// exactly one line; nothing the bottle sends adds a line or puts a
// terminal escape into the file or into `claude-bottle logs`; a secret the
// bottle put in a host name, an SNI or a method is recorded redacted, with
// the rule. Each case is an attacker's raw bytes over a real socket.

const SECRET = "bottle-secret-Vq7ZxP2mK9wL4nR8";

let env: Env;
let dead = 0; // a loopback port nothing listens on
beforeAll(async () => {
  const s = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => s.once("listening", r));
  dead = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  env = await startEnv(
    (up) => [
      route("up.test", { ports: [up.httpsPort, up.httpPort] }),
      route("get.test", { ports: [up.httpPort], methods: ["GET"] }),
      route("pass.test", { ports: [up.httpsPort, dead], tls: "passthrough" }),
      route("nopriv.test", { ports: [up.httpPort], allow_private: false }),
      route("passnopriv.test", { ports: [up.httpsPort], tls: "passthrough", allow_private: false }),
      route("dead.test", { ports: [dead] }),
      route("*.wild.test", { ports: [up.httpsPort], tls: "passthrough" }),
      route("off.test", { ports: [up.httpPort], dlp: "off" }),
    ],
    {
      secrets: { credentials: {}, secrets: [{ name: "MY_SECRET", value: SECRET }] },
      extra: { limits: { headerTimeoutMs: 400 } },
    },
  );
});
afterAll(async () => {
  await env.close();
});

const auditText = () => readFileSync(join(env.stateDir, "audit.jsonl"), "latin1");

// Runs one attack and returns the audit lines it added, once the file has
// been quiet for a moment (a second line for the same refusal would come
// right after the first).
async function added(attack: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const before = auditLines(env).length;
  await attack();
  let n = auditLines(env).length;
  // Quiet for 200 ms after the first line, or 2 s without any.
  for (let quiet = 0, waited = 0; quiet < 4 && waited < 2000; waited += 50) {
    await Bun.sleep(50);
    const m = auditLines(env).length;
    quiet = m === n && m > before ? quiet + 1 : 0;
    n = m;
  }
  return auditLines(env).slice(before);
}

const raw = (data: string | Buffer, timeoutMs = 3000) => () => rawRequest(env.gate.port!, data, timeoutMs);

// Through a terminated tunnel to up.test: TLS, then `inner` bytes.
const inTunnel = (inner: string) => async () => {
  const { sock } = await connectTunnel(env.gate.port!, `up.test:${env.up.httpsPort}`);
  const t = await tlsOver(sock, "up.test", env.bottleCa);
  t.write(inner);
  await readUntil(t, "\r\n\r\n", 3000).catch(() => "");
  t.destroy();
};

// A passthrough CONNECT followed by `after` (a hello, junk, or nothing).
const passthrough = (target: string, after: Buffer | null) => async () => {
  const { sock, response } = await connectTunnel(env.gate.port!, target);
  if (response.startsWith("HTTP/1.1 200") && after) sock.write(after);
  await Bun.sleep(100);
  sock.destroy();
};

function expectOneDeny(lines: Record<string, unknown>[], want: Record<string, unknown>, allowsFirst = 0) {
  const denies = lines.filter((l) => l.decision === "deny");
  expect(denies).toHaveLength(1);
  expect(lines).toHaveLength(1 + allowsFirst);
  expect(denies[0]).toMatchObject(want);
}

describe("gate: every refusal is exactly one audit line", () => {
  const U = () => `up.test:${env.up.httpPort}`;
  const cases: [string, () => () => Promise<unknown>, Record<string, unknown>, number?][] = [
    ["malformed head (bare LF)", () => raw(`GET http://${U()}/ HTTP/1.1\nHost: up.test\n\n`), { status: 400, layer: "gate" }],
    ["Content-Length with Transfer-Encoding", () => raw(`POST http://${U()}/ HTTP/1.1\r\nHost: up.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`), { status: 400 }],
    ["several Host headers", () => raw(`GET http://${U()}/ HTTP/1.1\r\nHost: up.test\r\nHost: up.test\r\n\r\n`), { status: 400, reason: "several Host headers" }],
    ["CONNECT with a body", () => raw(`CONNECT up.test:${env.up.httpsPort} HTTP/1.1\r\nHost: up.test\r\nContent-Length: 5\r\n\r\nhello`), { method: "CONNECT", status: 400, reason: "CONNECT with a body" }],
    ["CONNECT inside a tunnel", () => inTunnel(`CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n`), { method: "CONNECT", host: "up.test", status: 400, reason: "CONNECT inside a tunnel" }, 1],
    ["CONNECT target that is not host:port", () => raw("CONNECT nonsense HTTP/1.1\r\n\r\n"), { status: 400, layer: "gate" }],
    ["CONNECT to an invalid host", () => raw("CONNECT bad..host:443 HTTP/1.1\r\n\r\n"), { status: 403, layer: "policy" }],
    ["CONNECT to an unknown internal host", () => raw("CONNECT nope.bottle.internal:443 HTTP/1.1\r\n\r\n"), { status: 403, reason: "unknown internal host" }],
    ["CONNECT to a host not on the allowlist", () => raw("CONNECT evil.example:443 HTTP/1.1\r\n\r\n"), { status: 403, reason: "host not in allowlist: evil.example" }],
    ["passthrough to a private address", () => raw(`CONNECT passnopriv.test:${env.up.httpsPort} HTTP/1.1\r\n\r\n`), { status: 403, layer: "ssrf" }],
    ["passthrough nobody answers", () => raw(`CONNECT pass.test:${dead} HTTP/1.1\r\n\r\n`), { status: 502, layer: "gate" }],
    ["passthrough without a TLS hello", () => passthrough(`pass.test:${env.up.httpsPort}`, Buffer.from("GET / HTTP/1.1\r\n\r\n")), { layer: "tls" }],
    ["passthrough closed before any hello", () => passthrough(`pass.test:${env.up.httpsPort}`, null), { layer: "tls", reason: "tunnel closed before a TLS ClientHello" }],
    ["passthrough hello naming another host", () => passthrough(`pass.test:${env.up.httpsPort}`, clientHello("other.test")), { layer: "tls", reason: "TLS SNI other.test does not match CONNECT target pass.test" }],
    ["terminated tunnel, hello naming another host", () => passthrough(`up.test:${env.up.httpsPort}`, clientHello("other.test")), { layer: "tls", reason: "TLS SNI other.test does not match CONNECT target up.test" }, 1],
    ["origin-form outside a tunnel", () => raw("GET / HTTP/1.1\r\nHost: up.test\r\n\r\n"), { status: 400 }],
    ["https:// absolute-form", () => raw(`GET https://up.test/ HTTP/1.1\r\nHost: up.test\r\n\r\n`), { status: 400 }],
    ["Host naming another host inside a tunnel", () => inTunnel(`GET / HTTP/1.1\r\nHost: other.test\r\n\r\n`), { status: 403, host: "up.test" }, 1],
    ["a method the route does not allow", () => raw(`POST http://get.test:${env.up.httpPort}/ HTTP/1.1\r\nHost: get.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`), { status: 403, layer: "policy" }],
    ["a secret in the query", () => raw(`GET http://${U()}/?q=${SECRET} HTTP/1.1\r\nHost: up.test\r\nConnection: close\r\n\r\n`), { status: 403, layer: "dlp", path: null }],
    ["a secret in the body", () => raw(`POST http://${U()}/ HTTP/1.1\r\nHost: up.test\r\nContent-Length: ${SECRET.length}\r\n\r\n${SECRET}`), { status: 403, layer: "dlp" }],
    ["an Expect the gate cannot meet", () => raw(`POST http://${U()}/ HTTP/1.1\r\nHost: up.test\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx`), { status: 417 }],
    ["a broken chunked body", () => raw(`POST http://${U()}/ HTTP/1.1\r\nHost: up.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`), { status: 400 }],
    ["an upstream nobody answers", () => raw(`GET http://dead.test:${dead}/ HTTP/1.1\r\nHost: dead.test\r\nConnection: close\r\n\r\n`), { status: 502, layer: "gate" }],
    ["an upstream at a private address", () => raw(`GET http://nopriv.test:${env.up.httpPort}/ HTTP/1.1\r\nHost: nopriv.test\r\nConnection: close\r\n\r\n`), { status: 403, layer: "ssrf" }],
    ["a head that never ends (slowloris)", () => raw(`GET http://${U()}/ HTTP/1.1\r\nHost: up.test\r\n`, 2000), { status: 408 }],
    ["a secret in the method", () => raw(`${SECRET} http://${U()}/ HTTP/1.1\r\nHost: up.test\r\n\r\n`), { status: 403, layer: "dlp", method: "[redacted]", reason: "dlp: secret:MY_SECRET in method" }],
    ["a secret in the CONNECT host", () => raw(`CONNECT ${SECRET.toLowerCase()}.wild.test:${env.up.httpsPort} HTTP/1.1\r\n\r\n`), { status: 403, layer: "dlp", host: "[redacted].wild.test", reason: "dlp: secret:MY_SECRET in host" }],
  ];
  for (const [name, attack, want, allows] of cases) {
    test(name, async () => {
      expectOneDeny(await added(attack()), want, allows ?? 0);
    });
  }

  test("too many connections: the refused connection is one line", async () => {
    const small = await startEnv((up) => [route("up.test", { ports: [up.httpPort] })], { extra: { limits: { maxConnections: 2 } } });
    try {
      const held = await Promise.all([0, 1].map(() => net.connect(small.gate.port!, "127.0.0.1")));
      await Promise.all(held.map((s) => new Promise((r) => s.once("connect", r))));
      await Bun.sleep(100);
      const before = auditLines(small).length;
      const r = await rawRequest(small.gate.port!, "GET http://up.test/ HTTP/1.1\r\n\r\n", 3000);
      expect(r).toStartWith("HTTP/1.1 503");
      const lines = auditLines(small).slice(before);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ decision: "deny", status: 503, layer: "gate" });
      for (const s of held) s.destroy();
    } finally {
      await small.close();
    }
  });
});

describe("gate: the audit cannot be forged or used against a terminal", () => {
  test("an SNI carrying newlines, a fake JSON line, ESC, C1 and bidi controls: one ASCII line, logs show it escaped", async () => {
    const evil = Buffer.concat([
      Buffer.from('x\n{"decision":"allow","host":"forged"}\r\n\x1b[2J\x1b]0;pwned\x07', "latin1"),
      Buffer.from("\u009b31m\u202egnp.exe\u2028", "utf8"),
    ]);
    for (const target of [`up.test:${env.up.httpsPort}`, `pass.test:${env.up.httpsPort}`]) {
      const lines = await added(passthrough(target, clientHello(evil)));
      expect(lines.filter((l) => l.decision === "deny")).toHaveLength(1);
    }
    const text = auditText();
    // Only printable ASCII and the newline between lines.
    expect(/[^\x20-\x7e\n]/.test(text)).toBe(false);
    for (const line of text.split("\n").filter(Boolean)) {
      const rec = JSON.parse(line) as Record<string, unknown>;
      expect(rec.host).not.toBe("forged");
      for (const shown of [formatLine(line, false)!, formatLine(line, true)!]) {
        expect(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(shown)).toBe(false);
      }
    }
  });

  test("logs escape what an older or damaged file holds", () => {
    // JSON.stringify leaves C1, bidi and U+2028 raw; the ESC comes back raw
    // from JSON.parse.
    const line = JSON.stringify({ time: "2026-01-01T00:00:00.000Z", bottle: "b", method: "GET\u001b[31m", host: "a\u202eb", port: 443, path: "/\u009b2J", decision: "deny", reason: "r\u2028s", layer: "policy", status: 403, bytes_out: 0, bytes_in: 0 });
    const table = formatLine(line, false)!;
    const json = formatLine(line.replace("GET\\u001b", "GET\u001b"), true)!;
    for (const out of [table, json]) {
      expect(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]/.test(out)).toBe(false);
      expect(out).toContain("\\u001b");
    }
    expect(table).toContain("a\\u202eb");
  });

  test("a secret in an SNI is recorded redacted, with the rule", async () => {
    const lines = await added(passthrough(`up.test:${env.up.httpsPort}`, clientHello(`${SECRET.toLowerCase()}.wild.test`)));
    const deny = lines.find((l) => l.decision === "deny")!;
    expect(deny.reason).toBe("TLS SNI [redacted].wild.test (dlp: secret:MY_SECRET) does not match CONNECT target up.test");
    expect(auditText().toLowerCase()).not.toContain(SECRET.toLowerCase());
  });

  test("a secret that straddles where the audit cuts a long path: the whole path is checked, none of it written", async () => {
    // dlp: off forwards it; the audit still must not hold it. The secret
    // starts 11 characters before the 512th: a path cut before the check
    // would keep its head and look clean.
    const path = `/${"a".repeat(500)}${SECRET}`;
    const lines = await added(raw(`GET http://off.test:${env.up.httpPort}${path} HTTP/1.1\r\nHost: off.test\r\nConnection: close\r\n\r\n`));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ decision: "allow", host: "off.test", path: null });
    expect(String(lines[0]!.reason)).toContain("redacted path (dlp: secret:MY_SECRET)");
    expect(JSON.stringify(lines[0])).not.toContain(SECRET.slice(0, 11));
  });

  test("a long clean path is written cut to 512 characters", async () => {
    const lines = await added(raw(`GET http://off.test:${env.up.httpPort}/${"b".repeat(700)} HTTP/1.1\r\nHost: off.test\r\nConnection: close\r\n\r\n`));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.path).toBe(`/${"b".repeat(511)}`);
  });

  test("nothing of the secret anywhere in the file", async () => {
    // The cases above put SECRET into methods, hosts, SNIs, queries and
    // bodies; the file holds none of it, in any case.
    const t = auditText().toLowerCase();
    expect(t).not.toContain(SECRET.toLowerCase());
    expect(t).not.toContain(SECRET.toLowerCase().slice(0, 16));
  });

  test("a clean request after all that still works and is one allow line", async () => {
    const lines = await added(raw(`GET http://up.test:${env.up.httpPort}/fine HTTP/1.1\r\nHost: up.test\r\nConnection: close\r\n\r\n`));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ decision: "allow", path: "/fine", status: 200 });
  });
});
