// The per-bottle CA certificate, encoded by hand. Why not @peculiar/x509:
// loading it takes 30-60 ms (its decorators and DI container run at load),
// and `up` makes exactly one certificate of one fixed shape on its critical
// path. The shape is small and fixed, so the DER is written directly here
// and checked by tests with OpenSSL and with @peculiar/x509 (which the gate
// still uses, lazily, for the leaves). Pure, but for WebCrypto.

// ------------------------------------------------------------------ DER

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function length(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concat(parts);
  return concat([Uint8Array.of(tag), length(body.length), body]);
}

const seq = (...p: Uint8Array[]) => tlv(0x30, ...p);
const set = (...p: Uint8Array[]) => tlv(0x31, ...p);
const explicit = (n: number, ...p: Uint8Array[]) => tlv(0xa0 | n, ...p);
const octets = (b: Uint8Array) => tlv(0x04, b);
const bits = (b: Uint8Array, unused = 0) => tlv(0x03, Uint8Array.of(unused), b);
const TRUE = tlv(0x01, Uint8Array.of(0xff));

// An INTEGER from big-endian magnitude bytes: minimal, and positive (a
// leading 0x00 when the high bit is set).
export function uint(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const m = bytes.subarray(i);
  return tlv(0x02, m[0]! & 0x80 ? concat([Uint8Array.of(0), m]) : m);
}

export function oid(dotted: string): Uint8Array {
  const n = dotted.split(".").map(Number);
  const out: number[] = [n[0]! * 40 + n[1]!];
  for (const v of n.slice(2)) {
    const b: number[] = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) b.unshift(0x80 | (x & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, Uint8Array.from(out));
}

// UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
export function time(d: Date): Uint8Array {
  const p = (v: number) => String(v).padStart(2, "0");
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const y = d.getUTCFullYear();
  const enc = new TextEncoder();
  return y < 2050 ? tlv(0x17, enc.encode(`${p(y % 100)}${rest}`)) : tlv(0x18, enc.encode(`${y}${rest}`));
}

// ------------------------------------------------------------------ PEM

export function pem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

// The first PEM block's DER.
export function pemDecode(text: string): Uint8Array {
  const m = /-----BEGIN [^-]+-----([\s\S]*?)-----END [^-]+-----/.exec(text);
  if (!m) throw new Error("no PEM block");
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

// ------------------------------------------------------------------ the CA

const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

// IEEE P1363 r||s (WebCrypto's ECDSA output) to the DER SEQUENCE X.509 uses.
function ecdsaSigDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return seq(uint(raw.subarray(0, half)), uint(raw.subarray(half)));
}

export interface CaCertInput {
  commonName: string;
  organization: string;
  keys: CryptoKeyPair; // ECDSA P-256
  notBefore: Date;
  notAfter: Date;
  serial: Uint8Array; // random; made positive by uint()
}

// A self-signed CA: v3, ecdsa-with-SHA256, basicConstraints critical
// CA:TRUE pathlen 0 (it signs leaves only), keyUsage critical keyCertSign +
// cRLSign, subjectKeyIdentifier = SHA-1 of the public key (RFC 5280 4.2.1.2).
export async function selfSignedCa(c: CaCertInput): Promise<Uint8Array> {
  // PrintableString where the value allows it, else UTF8String: the types
  // @peculiar/x509 picks, so a name it re-encodes from text stays the same.
  const str = (s: string) => (/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s) ? tlv(0x13, new TextEncoder().encode(s)) : tlv(0x0c, new TextEncoder().encode(s)));
  const name = seq(set(seq(oid("2.5.4.3"), str(c.commonName))), set(seq(oid("2.5.4.10"), str(c.organization))));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", c.keys.publicKey));
  const point = new Uint8Array(await crypto.subtle.exportKey("raw", c.keys.publicKey));
  const ski = new Uint8Array(await crypto.subtle.digest("SHA-1", point));
  const ext = (id: string, critical: boolean, value: Uint8Array) => seq(oid(id), ...(critical ? [TRUE] : []), octets(value));
  const tbs = seq(
    explicit(0, uint(Uint8Array.of(2))),
    uint(c.serial),
    ECDSA_SHA256,
    name,
    seq(time(c.notBefore), time(c.notAfter)),
    name,
    spki,
    explicit(
      3,
      seq(
        ext("2.5.29.19", true, seq(TRUE, uint(Uint8Array.of(0)))),
        // keyCertSign (bit 5) + cRLSign (bit 6): 0b0000011, one unused bit.
        ext("2.5.29.15", true, bits(Uint8Array.of(0x06), 1)),
        ext("2.5.29.14", false, octets(ski)),
      ),
    ),
  );
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, c.keys.privateKey, new Uint8Array(tbs)));
  return seq(tbs, ECDSA_SHA256, bits(ecdsaSigDer(sig)));
}
