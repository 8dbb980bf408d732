import { beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { domainToASCII } from "node:url";
import { createCa } from "../../src/gate/tls/ca.ts";
import { createLeafMinter } from "../../src/gate/tls/leaf.ts";
import { parseClientHelloSni, type HelloResult } from "../../src/gate/tls/sni.ts";
import { build, canonicalSni, ECH, ESNI, handshake, host, insertExt, parseHello, PSK, records, replaceSni, SNI, sniData, TICKET, u16, withExts, type Hello } from "../helpers/tls-hello.ts";
import { caseCount, chance, finding, int, pick, rng, SEED, type Rng } from "./wire.ts";

// The ClientHello SNI peek, differential against OpenSSL (node:tls). A
// passthrough route trusts the peek: the gate compares its SNI with the
// CONNECT host and then relays the bytes unseen. The attack is a
// ClientHello whose SNI the peek reads as the allowed host while the real
// TLS server reads another. So: real ClientHellos written by node:tls
// clients (random servernames, ALPN lists, resumed sessions) and mutations
// of them are fed to the peek and to a real node:tls server; wherever the
// server answers, the peek must have refused or read exactly the name the
// server uses. Where OpenSSL refuses for a hello's content (a PSK binder, a
// key share), another server may not: so whatever the peek accepts must
// also be canonical to this file's own reader (test/helpers/tls-hello.ts),
// from which every parser reads the same name. An encrypted ClientHello
// must be refused by rule: OpenSSL 3.0 ignores it, an ECH server does not.
const N = caseCount(6_000);
const CLIENTS = Math.max(60, Math.min(400, Math.ceil(N / 15)));
const REF = join(import.meta.dir, "tls-ref.cjs");
let cfg = "";

beforeAll(async () => {
  // The server's certificate: a leaf from the gate's own CA code.
  const leaf = await (await createLeafMinter(await createCa("sni-fuzz"))).get("allowed.test");
  cfg = JSON.stringify({ cert: leaf.certPem, key: leaf.keyPem, ticketKeys: randomBytes(48).toString("base64") });
});

function node(mode: "capture" | "judge", lines: string[]): any[] {
  const r = Bun.spawnSync(["node", REF, mode], { stdin: Buffer.from([cfg, ...lines].join("\n") + "\n"), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`node tls reference (${mode}) failed: ${r.stderr}`);
  return r.stdout.toString().trimEnd().split("\n").map((l) => JSON.parse(l));
}

// answer: "certificate" (parsed and checked the whole ClientHello, picking a
// certificate for the name), "handshake" (answered), "alert", or null.
type Judged = { sni: string | null; used: string | null; answer: string | null; resumed: boolean; err: string | null };
const answered = (j: Judged) => j.answer === "certificate" || j.answer === "handshake";
const judge = (inputs: Buffer[]): Judged[] => node("judge", inputs.map((b) => b.toString("base64")));

// ---- Servernames and clients -------------------------------------------------
const LDH = "abcdefghijklmnopqrstuvwxyz0123456789-";
const label = (r: Rng, max = 12) => {
  const n = 1 + int(r, max);
  let s = Array.from({ length: n }, () => pick(r, [...LDH])).join("");
  if (s.startsWith("-")) s = "a" + s.slice(1);
  if (s.endsWith("-")) s = s.slice(0, -1) + "z";
  return s;
};
const UNICODE = ["bücher", "münchen", "日本", "пример", "δοκιμή", "straße", "ｆｕｌｌ", "ǅemal", "🙂"];

function servername(r: Rng): string {
  switch (int(r, 10)) {
    case 0: // IDN, punycode as a client sends it
      return domainToASCII(`${pick(r, UNICODE)}.${label(r, 5)}`) || "xn--bcher-kva.example";
    case 1: // longest label, longest name
      return chance(r, 0.5) ? `${"a".repeat(63)}.${label(r)}` : Array.from({ length: 4 }, () => "b".repeat(63)).join(".").slice(0, 253);
    case 2: // trailing dot
      return `${label(r)}.${label(r, 4)}.`;
    case 3: // IP-like
      return pick(r, ["1.2.3.4", "127.0.0.1", "0x7f.1", "::1", "[::1]", "10.0.0.1.", "4294967295"]);
    case 4: // upper case, underscores
      return `${label(r).toUpperCase()}.${pick(r, ["_dmarc", "x_y", label(r)])}.test`;
    default:
      return Array.from({ length: 1 + int(r, 4) }, () => label(r)).join(".") + pick(r, [".test", ".example", ".com", ""]);
  }
}

function client(r: Rng, k: number): { servername: string; alpn?: string[]; session?: string; maxVersion?: string } {
  const c: ReturnType<typeof client> = { servername: servername(r) };
  if (chance(r, 0.6)) c.alpn = Array.from({ length: 1 + int(r, 4) }, () => pick(r, ["h2", "http/1.1", "acme-tls/1", label(r, 30), "x".repeat(200)]));
  if (chance(r, 0.3)) c.maxVersion = "TLSv1.2";
  // Every tenth client resumes a session made for another name.
  if (k % 10 === 3) c.session = `${c.maxVersion ? "12" : "13"}:${pick(r, ["other.test", "evil.test"])}`;
  return c;
}

// ---- Mutations ---------------------------------------------------------------
type Mutation = { kind: string; bytes: Buffer; mustRefuse?: boolean };

function mutate(r: Rng, h: Hello, rec: Buffer): Mutation {
  const sniExt = h.exts.find((e) => e.type === SNI);
  const name = () => pick(r, ["allowed.test", "evil.test", label(r) + ".test"]);
  switch (int(r, 14)) {
    case 0: {
      // several entries in one server_name list
      const entries = pick(r, [
        [host(name()), host(name())],
        [{ type: 1, name: Buffer.from(name()) }, host(name())],
        [host(name()), { type: 1, name: Buffer.from(name()) }],
        [{ type: pick(r, [1, 2, 255]), name: Buffer.from(name()) }],
        [],
      ]);
      return { kind: "several or other-type names", bytes: build(replaceSni(h, sniData(entries))) };
    }
    case 1: // a second server_name extension
      return { kind: "duplicate server_name", bytes: build(insertExt(h, { type: SNI, data: sniData([host(name())]) }, int(r, h.exts.length + 1))) };
    case 2: {
      // host_name bytes a parser may read differently
      const n = pick(r, ["allowed.test\x00evil.test", "\xaallowed.test", "allowed.test.", "ALLOWED.TEST", "", "a".repeat(256), "allowed test", "allowed.test\xff", "allowed..test", "xn--allowed.test", "allowed.test/evil"]);
      return { kind: "odd host_name bytes", bytes: build(replaceSni(h, sniData([host(n)]))) };
    }
    case 3: {
      // a length one or two off: record, handshake, extensions, extension, list, name
      const msg = handshake(h);
      const b = Buffer.concat([Buffer.from([22]), h.recVersion, u16(msg.length), msg]);
      const spots = [3, 6];
      let p = 5 + 4 + h.fixed.length;
      spots.push(p);
      p += 2;
      for (const e of h.exts) {
        spots.push(p + 2);
        if (e.type === SNI) spots.push(p + 4, p + 7);
        p += 4 + e.data.length;
      }
      const at = pick(r, spots);
      const v = (b[at]! << 8) | b[at + 1]!;
      const nv = Math.max(0, v + pick(r, [-2, -1, 1, 2]));
      b[at] = nv >> 8;
      b[at + 1] = nv & 0xff;
      return { kind: "length off by one or two", bytes: b };
    }
    case 4: // truncated anywhere
      return { kind: "truncated", bytes: rec.subarray(0, int(r, rec.length)) };
    case 5: {
      // the handshake spread over several records, cut anywhere (often inside the SNI)
      const msg = handshake(h);
      const cuts = [...new Set(Array.from({ length: 1 + int(r, 3) }, () => 1 + int(r, msg.length - 1)))].sort((a, b) => a - b);
      return { kind: "fragmented over records", bytes: records(h, msg, cuts) };
    }
    case 6: {
      // a first record that holds only the start, the SNI arriving in a second one
      const msg = handshake(h);
      const sniAt = msg.indexOf(sniExt ? sniExt.data : Buffer.alloc(1));
      return { kind: "SNI in a second record", bytes: records(h, msg, [Math.max(1, Math.min(msg.length - 1, sniAt))]) };
    }
    case 7: // bytes after the ClientHello inside its record
      return {
        kind: "trailing bytes in the record",
        bytes: (() => {
          const msg = Buffer.concat([handshake(h), pick(r, [Buffer.from([0]), handshake(replaceSni(h, sniData([host("evil.test")]))), randomBytes(1 + int(r, 8))])]);
          return Buffer.concat([Buffer.from([22]), h.recVersion, u16(msg.length), msg]);
        })(),
      };
    case 8: // encrypted ClientHello / ESNI: the real name is hidden from the gate
      return { kind: "ECH or ESNI", bytes: build(insertExt(h, { type: pick(r, [ECH, ESNI, 0xfe0a]), data: randomBytes(8 + int(r, 60)) }, int(r, h.exts.length + 1))), mustRefuse: true };
    case 9: // an extension after pre_shared_key, or a duplicated other extension
      return chance(r, 0.5) && h.exts.length
        ? { kind: "duplicate extension", bytes: build(insertExt(h, pick(r, h.exts), int(r, h.exts.length + 1))) }
        : { kind: "extension after the last", bytes: build(withExts(h, [...h.exts, { type: SNI, data: sniData([host(name())]) }])) };
    case 10: // no server_name at all
      return { kind: "no server_name", bytes: build(withExts(h, h.exts.filter((e) => e.type !== SNI))) };
    case 11: {
      // a random byte changed in the extensions
      const b = Buffer.from(rec);
      const at = 5 + 4 + h.fixed.length + int(r, Math.max(1, b.length - 9 - h.fixed.length));
      b[at] = int(r, 256);
      return { kind: "byte flipped", bytes: b };
    }
    case 12: // record header: another content type or version
      return { kind: "record header", bytes: Buffer.concat([Buffer.from([pick(r, [22, 23, 21, 20, 0x80])]), pick(r, [Buffer.from([3, 1]), Buffer.from([3, 3]), Buffer.from([3, 0]), Buffer.from([2, 0]), Buffer.from([0xfe, 0xff])]), rec.subarray(3)]) };
    default: // an empty server_name extension
      return { kind: "empty server_name", bytes: build(replaceSni(h, Buffer.alloc(0))) };
  }
}

// ---- Verdicts ----------------------------------------------------------------
// The peek as the gate runs it: on every prefix the gate may have read, then
// on all of it. A decision taken on a prefix must be the final one.
function peek(b: Buffer, r: Rng): { res: HelloResult; why: string | null } {
  const res = parseClientHelloSni(b);
  for (let t = 0; t < 3; t++) {
    const cut = int(r, b.length + 1);
    const early = parseClientHelloSni(b.subarray(0, cut));
    if (early.kind !== "incomplete" && JSON.stringify(early) !== JSON.stringify(res)) {
      return { res, why: `on the first ${cut} bytes the peek says ${JSON.stringify(early)}, on all ${b.length}: ${JSON.stringify(res)}` };
    }
  }
  return { res, why: null };
}

function verdict(res: HelloResult, j: Judged, m: { mustRefuse?: boolean; bytes: Buffer }): string | null {
  if (res.kind !== "ok") return null; // refused (or waiting): the tunnel never opens
  if (m.mustRefuse) return `the peek accepts a ClientHello whose name it cannot see (SNI ${JSON.stringify(res.sni)})`;
  const c = canonicalSni(m.bytes);
  if ("not" in c) return `the peek accepts a ClientHello that is not ${c.not} (SNI ${JSON.stringify(res.sni)}; OpenSSL: ${answered(j) ? `uses ${JSON.stringify(j.used)}` : j.err})`;
  if (c.sni !== res.sni) return `the peek reads SNI ${JSON.stringify(res.sni)}, the structure says ${JSON.stringify(c.sni)}`;
  if (answered(j) && res.sni !== j.used) return `the peek reads SNI ${JSON.stringify(res.sni)}, OpenSSL uses ${JSON.stringify(j.used)}${j.sni !== j.used ? ` (its SNICallback got ${JSON.stringify(j.sni)})` : ""}`;
  return null;
}

test(`ClientHello SNI: the peek refuses or reads the name OpenSSL uses (${N} mutations of ${CLIENTS} real hellos, seed ${SEED})`, () => {
  const r = rng(11);
  const clients = Array.from({ length: CLIENTS }, (_, k) => client(r, k));
  const captured = node(
    "capture",
    clients.map((c) => JSON.stringify(c)),
  ) as { hello: string | null; err: string | null }[];
  const refusedByNode = new Set<string>();
  const hellos: { c: (typeof clients)[number]; rec: Buffer }[] = [];
  for (const [k, x] of captured.entries()) {
    if (x.hello) hellos.push({ c: clients[k]!, rec: Buffer.from(x.hello, "base64") });
    else refusedByNode.add(`${clients[k]!.servername}: ${x.err}`);
  }
  expect(hellos.length).toBeGreaterThan(CLIENTS * 0.8);

  // The real hellos themselves: the server answers each, and the peek reads
  // the name the server uses. Those resuming a TLS 1.2 session by ticket
  // are refused: the server takes the session's name, sealed in the ticket
  // (OpenSSL resumes a session made for another name, as counted here).
  const pr = rng(12);
  const real = judge(hellos.map((x) => x.rec));
  let tickets = 0;
  let resumedOther = 0;
  const notHostName = new Set<string>();
  for (const [k, x] of hellos.entries()) {
    const { res, why } = peek(x.rec, pr);
    const ticket = parseHello(x.rec).exts.some((e) => e.type === TICKET && e.data.length > 0);
    let v = why;
    if (ticket) {
      tickets++;
      if (real[k]!.resumed && x.c.session && !x.c.session.endsWith(`:${x.c.servername}`)) resumedOther++;
      if (res.kind === "ok") v ??= `the peek accepts a ClientHello resuming a TLS 1.2 session by ticket (SNI ${JSON.stringify(res.sni)}, OpenSSL ${real[k]!.resumed ? "resumed it" : "did not resume"})`;
    } else if (res.kind !== "ok") {
      // RFC 6066 allows no IP literal as a HostName; node sends "::1" anyway.
      if (/^[A-Za-z0-9._-]+$/.test(x.c.servername)) v ??= `the peek refuses a real ClientHello: ${JSON.stringify(res)}`;
      else notHostName.add(x.c.servername);
    } else {
      if (!answered(real[k]!)) v ??= `OpenSSL did not answer a real ClientHello (${real[k]!.err}): the reference is broken`;
      v ??= verdict(res, real[k]!, { bytes: x.rec });
    }
    if (v) throw finding("SNI", k, JSON.stringify({ client: x.c, hello: x.rec.toString("base64") }), v);
  }
  expect(tickets).toBeGreaterThan(0);

  const cases = Array.from({ length: N }, () => {
    const x = pick(r, hellos);
    return { from: x, m: mutate(r, parseHello(x.rec), x.rec) };
  });
  const judged = judge(cases.map((c) => c.m.bytes));
  const kinds = new Map<string, { n: number; ok: number; answered: number }>();
  const contentRefusals = new Map<string, number>();
  for (const [i, { from, m }] of cases.entries()) {
    const { res, why } = peek(m.bytes, pr);
    const v = why ?? verdict(res, judged[i]!, m);
    const k = kinds.get(m.kind) ?? { n: 0, ok: 0, answered: 0 };
    kinds.set(m.kind, { n: k.n + 1, ok: k.ok + (res.kind === "ok" ? 1 : 0), answered: k.answered + (answered(judged[i]!) ? 1 : 0) });
    if (res.kind === "ok" && !answered(judged[i]!)) contentRefusals.set(String(judged[i]!.err), (contentRefusals.get(String(judged[i]!.err)) ?? 0) + 1);
    if (v) throw finding("SNI", i, JSON.stringify({ mutation: m.kind, client: from.c, bytes: m.bytes.toString("base64") }), v);
  }
  console.log(
    `SNI: ${hellos.length} real ClientHellos (${tickets} resuming a TLS 1.2 session by ticket; OpenSSL resumed ${resumedOther} made for another name; the peek refused servernames that are no host name: ${[...notHostName].join(" ") || "none"}); node refused to send ${refusedByNode.size}: ${[...refusedByNode].join("; ") || "none"}`,
  );
  console.log(`SNI: ${N} mutations (kind: cases / peek accepted / OpenSSL answered): ${[...kinds].map(([k, v]) => `${k} ${v.n}/${v.ok}/${v.answered}`).join(", ")}`);
  console.log(`SNI: canonical hellos the peek accepted and OpenSSL refused for their content: ${[...contentRefusals].map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`);
  // The mutations must reach both sides: some accepted, some refused.
  const accepted = [...kinds.values()].reduce((a, v) => a + v.ok, 0);
  expect(accepted).toBeGreaterThan(N / 10);
  expect(accepted).toBeLessThan(N);
}, 120_000);
