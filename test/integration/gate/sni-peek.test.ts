import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { build, captureHello, ECH, handshake, host, insertExt, parseHello, replaceSni, sniData, TICKET, u16, withExts, type Hello } from "../../helpers/tls-hello.ts";
import { auditLines, connectTunnel, route, startEnv, type Env } from "./harness.ts";

// The attacker's side of a passthrough route: through a real CONNECT to
// the gate, ClientHellos that name the allowed host to a lax reader but
// another host (or none the gate can see) to a TLS server. The upstream is
// a raw TCP listener that records every byte arriving; a refused hello
// must never reach it. A clean hello for the same host does (the control:
// the path works and the recorder records).

let env: Env;
let upstream: net.Server;
let port = 0;
const arrived = new Map<number, Buffer>(); // by connection number
let conns = 0;
let h: Hello;
let rec: Buffer;

beforeAll(async () => {
  upstream = net.createServer((s) => {
    const n = ++conns;
    arrived.set(n, Buffer.alloc(0));
    s.on("data", (d: Buffer) => arrived.set(n, Buffer.concat([arrived.get(n)!, d])));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  port = (upstream.address() as net.AddressInfo).port;
  env = await startEnv(() => [route("pass.test", { ports: [port], tls: "passthrough" })]);
  rec = await captureHello({ servername: "pass.test", ALPNProtocols: ["http/1.1"] });
  h = parseHello(rec);
});
afterAll(async () => {
  await env.close();
  upstream.close();
});

// Sends `hello` through a CONNECT to pass.test; resolves to the bytes the
// upstream got on the connection the gate opened for it, once the gate has
// closed the tunnel or relayed the hello.
async function through(hello: Buffer): Promise<{ got: Buffer; audit: Record<string, unknown> | undefined }> {
  const before = auditLines(env).length;
  const n = conns + 1; // the upstream connection the gate opens for this tunnel
  const { sock, response } = await connectTunnel(env.gate.port!, `pass.test:${port}`);
  expect(response).toStartWith("HTTP/1.1 200");
  sock.write(hello);
  const deadline = Date.now() + 5000;
  // The gate dials before it answers 200; the upstream may see it a moment later.
  while (conns < n && Date.now() < deadline) await Bun.sleep(5);
  expect(conns).toBe(n);
  let audit: Record<string, unknown> | undefined;
  while (Date.now() < deadline) {
    audit = auditLines(env).slice(before).find((l) => l.layer === "tls" || (l.decision === "allow" && l.method === "CONNECT"));
    if (audit && (audit.decision === "deny" || arrived.get(n)!.length >= hello.length)) break;
    await Bun.sleep(10);
  }
  sock.destroy();
  return { got: arrived.get(n)!, audit };
}

test("control: a real ClientHello for the CONNECT host reaches the upstream byte for byte", async () => {
  const r = await through(rec);
  expect(r.audit).toMatchObject({ decision: "allow", method: "CONNECT", host: "pass.test" });
  expect(r.got.equals(rec)).toBe(true);
});

const attacks: [string, () => Buffer, string][] = [
  ["a second server_name extension naming another host", () => build(insertExt(h, { type: 0, data: sniData([host("evil.test")]) })), "extension 0 appears twice"],
  ["two host_names in one server_name list", () => build(replaceSni(h, sniData([host("pass.test"), host("evil.test")]))), "bytes left over after the host_name (several server names)"],
  // normalizeHost maps U+00AA to "a": the old gate compared "pass.test"
  ["a name whose bytes IDNA maps onto the allowed host", () => build(replaceSni(h, sniData([host("p\xaass.test")]))), "server name with a byte that is not a host name character"],
  ["an encrypted ClientHello with the allowed host outside", () => build(insertExt(h, { type: ECH, data: randomBytes(64) })), "encrypted ClientHello: the server name is hidden from the gate"],
  [
    "a TLS 1.2 session ticket (the session's name wins on resumption)",
    () => build(withExts(h, [...h.exts.filter((e) => e.type !== TICKET), { type: TICKET, data: randomBytes(160) }])),
    "resumes a TLS 1.2 session by ticket, whose server name the gate cannot see",
  ],
  [
    "a second ClientHello naming another host in the same record",
    () => {
      const msg = Buffer.concat([handshake(h), handshake(replaceSni(h, sniData([host("evil.test")])))]);
      return Buffer.concat([Buffer.from([22, 3, 1]), u16(msg.length), msg]);
    },
    "bytes after the ClientHello in its record",
  ],
];

for (const [what, hello, reason] of attacks) {
  test(`refused, and nothing reaches the upstream: ${what}`, async () => {
    const r = await through(hello());
    expect(r.audit).toMatchObject({ decision: "deny", method: "CONNECT", host: "pass.test", layer: "tls", reason: `not a TLS ClientHello (${reason})` });
    expect(r.got.length).toBe(0);
  });
}
