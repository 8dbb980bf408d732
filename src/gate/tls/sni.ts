// Reads the SNI host name out of a TLS ClientHello without terminating TLS,
// for `tls: passthrough` routes: the gate still refuses a tunnel whose SNI
// names a different host than the CONNECT did (domain fronting).
//
// The gate relays the bytes unseen once this says yes, so the upstream's TLS
// library must read the same name from them. Hence strict: every length is
// consumed exactly (RFC 8446 §4.1.2, the way OpenSSL's PACKET reads it),
// one record holds exactly one ClientHello, no extension appears twice,
// pre_shared_key comes last, and the server_name list holds exactly one
// host_name (RFC 6066 §3) of ASCII name characters. Whatever one parser
// could read differently from another is refused, not guessed at.

import { Reader, Refused } from "./reader.ts";

export type HelloResult =
  | { kind: "incomplete" }
  | { kind: "error"; reason: string }
  | { kind: "ok"; sni: string | null; sessionId: Uint8Array; size: number };

const MAX_RECORD = 16384; // TLSPlaintext.length <= 2^14
const MAX_NAME = 255;

const EXT_SERVER_NAME = 0;
const EXT_SESSION_TICKET = 35;
const EXT_PRE_SHARED_KEY = 41;
// Encrypted ClientHello (RFC 9849; drafts 08-13 used 0xfe08-0xfe0d) and its
// predecessor ESNI (0xffce): the name the server uses is inside, sealed.
const hidesName = (t: number) => (t >= 0xfe08 && t <= 0xfe0d) || t === 0xffce;

export function parseClientHelloSni(buf: Uint8Array): HelloResult {
  if (buf.length < 5) return { kind: "incomplete" };
  if (buf[0] !== 0x16) return { kind: "error", reason: "not a TLS handshake" };
  if (buf[1] !== 0x03) return { kind: "error", reason: "not a TLS record version" };
  const recLen = (buf[3]! << 8) | buf[4]!;
  if (recLen > MAX_RECORD) return { kind: "error", reason: "TLS record too large" };
  if (buf.length < 5 + recLen) return { kind: "incomplete" };
  try {
    return { kind: "ok", ...clientHello(new Reader("ClientHello", buf, 5, 5 + recLen)), size: 5 + recLen };
  } catch (e) {
    if (e instanceof Refused) return { kind: "error", reason: e.message };
    throw e;
  }
}

// The first record's fragment: one whole ClientHello and nothing else. A
// ClientHello spread over several records is refused rather than
// reassembled (real clients send one record). The legacy_session_id comes
// back too: a TLS 1.2 server that echoes it resumes that session, under
// the name the session was made for (hello-watch.ts).
function clientHello(rec: Reader): { sni: string | null; sessionId: Uint8Array } {
  if (rec.u8() !== 0x01) throw new Refused("not a ClientHello");
  const len = rec.u24();
  if (len > rec.left) throw new Refused("ClientHello spans several records");
  if (len < rec.left) throw new Refused("bytes after the ClientHello in its record");
  const m = rec.sub(len);
  m.skip(2 + 32); // legacy_version, random
  const sid = m.u8();
  if (sid > 32) throw new Refused("session id too long");
  const sessionId = m.bytes().slice(0, sid);
  m.skip(sid);
  const suites = m.u16();
  if (suites < 2 || suites % 2) throw new Refused("bad cipher suite list");
  m.skip(suites);
  const comp = m.u8();
  if (comp < 1) throw new Refused("no compression methods");
  m.skip(comp);
  if (m.left === 0) return { sni: null, sessionId }; // no extensions (TLS 1.2): no SNI
  const exts = m.sub(m.u16());
  m.end("the extensions");
  return { sni: extensions(exts), sessionId };
}

function extensions(exts: Reader): string | null {
  const seen = new Set<number>();
  let sni: string | null = null;
  while (exts.left > 0) {
    const type = exts.u16();
    const data = exts.sub(exts.u16());
    if (seen.has(EXT_PRE_SHARED_KEY)) throw new Refused("an extension after pre_shared_key");
    if (seen.has(type)) throw new Refused(`extension ${type} appears twice`);
    seen.add(type);
    if (hidesName(type)) throw new Refused("encrypted ClientHello: the server name is hidden from the gate");
    // A TLS 1.2 server resuming from a ticket takes the name sealed in the
    // ticket, not this one (OpenSSL resumes even when they differ).
    if (type === EXT_SESSION_TICKET && data.left > 0) throw new Refused("resumes a TLS 1.2 session by ticket, whose server name the gate cannot see");
    if (type === EXT_SERVER_NAME) sni = serverName(data);
  }
  return sni;
}

// ServerNameList with exactly one entry, of type host_name.
function serverName(data: Reader): string {
  const list = data.sub(data.u16());
  data.end("the server_name list");
  if (list.u8() !== 0) throw new Refused("server_name entry is not a host_name");
  const name = list.sub(list.u16());
  list.end("the host_name (several server names)");
  const b = name.bytes();
  if (b.length === 0 || b.length > MAX_NAME) throw new Refused("server name empty or too long");
  for (const c of b) {
    // Letters, digits, '-', '_', '.': ASCII as RFC 6066 requires (IDNs
    // travel as punycode); no byte a later mapping could turn into another.
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e;
    if (!ok) throw new Refused("server name with a byte that is not a host name character");
  }
  return Buffer.from(b).toString("latin1");
}
