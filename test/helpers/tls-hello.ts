import { createECDH } from "node:crypto";
import net from "node:net";
import tls from "node:tls";

// TLS ClientHellos for the SNI tests: a real one captured from a node:tls
// client, taken apart and put back together with consistent lengths (RFC
// 8446 §4.1.2), so that a test can change exactly one thing in it. Used by
// the SNI fuzzer (test/fuzz) and the peek's regression tests.

export interface Hello {
  recVersion: Buffer; // record layer version
  fixed: Buffer; // legacy_version .. compression methods
  exts: { type: number; data: Buffer }[];
}

export const SNI = 0;
export const TICKET = 35;
export const PSK = 41;
export const ECH = 0xfe0d;
export const ESNI = 0xffce;

export const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u24 = (n: number) => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);

// One record holding one ClientHello, as a client writes it.
export function parseHello(rec: Buffer): Hello {
  const hs = rec.subarray(5);
  let p = 4 + 2 + 32;
  p += 1 + hs[p]!;
  p += 2 + hs.readUInt16BE(p);
  p += 1 + hs[p]!;
  const fixed = hs.subarray(4, p);
  const end = p + 2 + hs.readUInt16BE(p);
  p += 2;
  const exts: Hello["exts"] = [];
  while (p < end) {
    const len = hs.readUInt16BE(p + 2);
    exts.push({ type: hs.readUInt16BE(p), data: hs.subarray(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  return { recVersion: rec.subarray(1, 3), fixed, exts };
}

// The handshake message (type, length, body).
export function handshake(h: Hello): Buffer {
  const ext = Buffer.concat(h.exts.flatMap((e) => [u16(e.type), u16(e.data.length), e.data]));
  const body = Buffer.concat([h.fixed, u16(ext.length), ext]);
  return Buffer.concat([Buffer.from([1]), u24(body.length), body]);
}

// `msg` in handshake records, cut at `cuts`.
export function records(h: Hello, msg: Buffer, cuts: number[] = []): Buffer {
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...cuts, msg.length]) {
    out.push(Buffer.from([22]), h.recVersion, u16(to - from), msg.subarray(from, to));
    from = to;
  }
  return Buffer.concat(out);
}

export const build = (h: Hello) => records(h, handshake(h));

// server_name extension data: a list of (type, name) entries.
export function sniData(entries: { type: number; name: Buffer }[]): Buffer {
  const list = Buffer.concat(entries.flatMap((e) => [Buffer.from([e.type]), u16(e.name.length), e.name]));
  return Buffer.concat([u16(list.length), list]);
}
export const host = (s: string) => ({ type: 0, name: Buffer.from(s, "latin1") });

export const withExts = (h: Hello, exts: Hello["exts"]): Hello => ({ ...h, exts });
export const replaceSni = (h: Hello, data: Buffer) => withExts(h, h.exts.map((e) => (e.type === SNI ? { type: SNI, data } : e)));
// Insert at `at` (default: just before pre_shared_key, which must stay last).
export function insertExt(h: Hello, e: Hello["exts"][number], at?: number): Hello {
  const last = h.exts.length && h.exts[h.exts.length - 1]!.type === PSK ? h.exts.length - 1 : h.exts.length;
  const i = Math.min(at ?? last, last);
  return withExts(h, [...h.exts.slice(0, i), e, ...h.exts.slice(i)]);
}

// A second, independent reading: the bytes are one record holding one
// ClientHello whose every length is consistent (it rebuilds to the same
// bytes), no extension twice, pre_shared_key last, no encrypted name, no
// TLS 1.2 ticket, and a server_name of exactly one host_name. Any parser
// reads the same name from such a hello; a server may still refuse it for
// its content (a key share, a PSK binder).
export function canonicalSni(b: Buffer): { sni: string | null } | { not: string } {
  try {
    if (b.length < 5 || b[0] !== 22 || b[1] !== 3 || b.readUInt16BE(3) !== b.length - 5) return { not: "one TLS 1.x handshake record" };
    const h = parseHello(b);
    if (!build(h).equals(b)) return { not: "one ClientHello with consistent lengths" };
    const types = h.exts.map((e) => e.type);
    if (new Set(types).size !== types.length) return { not: "free of duplicate extensions" };
    if (types.includes(PSK) && types.at(-1) !== PSK) return { not: "ending with pre_shared_key" };
    if (types.some((t) => t === ESNI || (t >= 0xfe08 && t <= ECH))) return { not: "free of ECH/ESNI" };
    if (h.exts.some((e) => e.type === TICKET && e.data.length > 0)) return { not: "free of a TLS 1.2 ticket" };
    const ext = h.exts.find((e) => e.type === SNI);
    if (!ext) return { sni: null };
    const name = ext.data.subarray(5).toString("latin1");
    if (!sniData([host(name)]).equals(ext.data)) return { not: "a server_name of one host_name" };
    return /^[A-Za-z0-9._-]{1,255}$/.test(name) ? { sni: name } : { not: "a host name of ASCII name characters" };
  } catch {
    return { not: "parseable" };
  }
}

// The first ClientHello record a node:tls client writes, captured on a
// local socket. `session` resumes a session (a ticket, for TLS 1.2).
export async function captureHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  const srv = net.createServer();
  const got = new Promise<Buffer>((resolve) => {
    srv.on("connection", (s) => {
      let buf = Buffer.alloc(0);
      s.on("error", () => {});
      s.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
          s.destroy();
          resolve(buf.subarray(0, 5 + buf.readUInt16BE(3)));
        }
      });
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const c = tls.connect({ host: "127.0.0.1", port: (srv.address() as net.AddressInfo).port, rejectUnauthorized: false, ...opts });
  c.on("error", () => {});
  try {
    return await got;
  } finally {
    c.destroy();
    srv.close();
  }
}

// key_share extension data with one fresh P-256 share: what a client sends
// when a HelloRetryRequest asked for P-256 (or to need none).
export const KEY_SHARE = 51;
export function p256KeyShare(): Buffer {
  const pub = createECDH("prime256v1").generateKeys();
  const entry = Buffer.concat([u16(0x17), u16(pub.length), pub]);
  return Buffer.concat([u16(entry.length), entry]);
}
export const withExt = (h: Hello, type: number, data: Buffer): Hello => withExts(h, h.exts.map((e) => (e.type === type ? { type, data } : e)));

// A ChangeCipherSpec record, as a TLS 1.3 client in middlebox
// compatibility mode sends it before its second flight.
export const CCS = Buffer.from([20, 3, 3, 0, 1, 1]);

// The whole records at the start of `b` and, if one of them holds a
// ServerHello, whether it is a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c";
export function serverHellos(b: Buffer): ("retry" | "hello")[] {
  const out: ("retry" | "hello")[] = [];
  for (let p = 0; p + 5 <= b.length && p + 5 + b.readUInt16BE(p + 3) <= b.length; p += 5 + b.readUInt16BE(p + 3)) {
    if (b[p] === 22 && b[p + 5] === 2) out.push(b.subarray(p + 5 + 6, p + 5 + 38).toString("hex") === HRR_RANDOM ? "retry" : "hello");
  }
  return out;
}
