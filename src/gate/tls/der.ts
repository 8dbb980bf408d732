// Certificates encoded by hand: the per-bottle CA and the leaves the gate
// mints for terminated hosts. Why not @peculiar/x509: loading it takes
// 30-60 ms (its decorators and DI container run at load) and about 10 MB of
// the gate's memory, for two certificate shapes that are small and fixed.
// The DER is written directly here and checked by tests with OpenSSL, node's
// X509Certificate, @peculiar/x509 (as a reader), GnuTLS (through git) and
// real TLS handshakes. Pure, but for WebCrypto.

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

// A name of one attribute per RDN. PrintableString where the value allows
// it, else UTF8String: the types @peculiar/x509 picks, so a name it
// re-encodes from text stays the same.
function dirString(s: string): Uint8Array {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s) ? tlv(0x13, new TextEncoder().encode(s)) : tlv(0x0c, new TextEncoder().encode(s));
}

const extension = (id: string, critical: boolean, value: Uint8Array) => seq(oid(id), ...(critical ? [TRUE] : []), octets(value));

// Subject key identifier: SHA-1 of the public key's point (RFC 5280
// 4.2.1.2, method 1), as @peculiar/x509 and OpenSSL compute it.
async function keyId(publicKey: CryptoKey): Promise<Uint8Array> {
  const point = new Uint8Array(await crypto.subtle.exportKey("raw", publicKey));
  return new Uint8Array(await crypto.subtle.digest("SHA-1", point));
}

async function signed(tbs: Uint8Array, key: CryptoKey): Promise<Uint8Array> {
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, new Uint8Array(tbs)));
  return seq(tbs, ECDSA_SHA256, bits(ecdsaSigDer(sig)));
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
  const name = seq(set(seq(oid("2.5.4.3"), dirString(c.commonName))), set(seq(oid("2.5.4.10"), dirString(c.organization))));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", c.keys.publicKey));
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
        extension("2.5.29.19", true, seq(TRUE, uint(Uint8Array.of(0)))),
        // keyCertSign (bit 5) + cRLSign (bit 6): 0b0000011, one unused bit.
        extension("2.5.29.15", true, bits(Uint8Array.of(0x06), 1)),
        extension("2.5.29.14", false, octets(await keyId(c.keys.publicKey))),
      ),
    ),
  );
  return signed(tbs, c.keys.privateKey);
}

// ------------------------------------------------------------------ reading

// One DER element: its tag and where its header and contents are.
interface Element {
  tag: number;
  start: number; // the tag byte
  body: number; // the first content byte
  end: number;
}

function element(b: Uint8Array, at: number): Element {
  const tag = b[at]!;
  let n = b[at + 1]!;
  let body = at + 2;
  if (n & 0x80) {
    const k = n & 0x7f;
    if (k === 0 || k > 4) throw new Error("unsupported DER length");
    n = 0;
    for (let i = 0; i < k; i++) n = n * 256 + b[body + i]!;
    body += k;
  }
  if (body + n > b.length) throw new Error("truncated DER");
  return { tag, start: at, body, end: body + n };
}

function children(b: Uint8Array, e: Element): Element[] {
  const out: Element[] = [];
  for (let at = e.body; at < e.end; ) {
    const c = element(b, at);
    out.push(c);
    at = c.end;
  }
  return out;
}

function readTime(b: Uint8Array, e: Element): Date {
  const t = new TextDecoder().decode(b.subarray(e.body, e.end));
  const m = (e.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/).exec(t);
  if (!m) throw new Error("unsupported certificate time");
  const y = Number(m[1]);
  const year = e.tag === 0x17 ? (y < 50 ? 2000 + y : 1900 + y) : y;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

// What a leaf needs of its issuer, read from the issuer's own DER.
export interface IssuerFacts {
  // The subject Name exactly as encoded: a leaf's issuer field is these
  // bytes (GnuTLS, git's TLS in Debian, compares issuer and subject byte
  // for byte; a name re-encoded from its text can change string types).
  subject: Uint8Array;
  keyId: Uint8Array; // its subject key identifier (the leaf's authority key id)
  notAfter: Date;
}

export async function issuerFacts(certDer: Uint8Array): Promise<IssuerFacts> {
  const [tbs] = children(certDer, element(certDer, 0));
  const f = children(certDer, tbs!);
  const i = f[0]!.tag === 0xa0 ? 1 : 0; // [0] version
  const validity = children(certDer, f[i + 3]!);
  const subject = f[i + 4]!;
  const spki = f[i + 5]!;
  let ski: Uint8Array | null = null;
  const exts = f.find((e) => e.tag === 0xa3);
  if (exts) {
    for (const ext of children(certDer, children(certDer, exts)[0]!)) {
      const parts = children(certDer, ext);
      const id = certDer.subarray(parts[0]!.start, parts[0]!.end);
      if (Buffer.from(id).equals(Buffer.from(oid("2.5.29.14")))) {
        const inner = element(certDer, parts.at(-1)!.body); // OCTET STRING in the extension's OCTET STRING
        ski = certDer.slice(inner.body, inner.end);
      }
    }
  }
  if (ski === null) {
    // No identifier of its own: the same SHA-1 of its point (BIT STRING
    // contents after the unused-bits byte).
    const key = children(certDer, spki)[1]!;
    ski = new Uint8Array(await crypto.subtle.digest("SHA-1", certDer.slice(key.body + 1, key.end)));
  }
  return { subject: certDer.slice(subject.start, subject.end), keyId: ski, notAfter: readTime(certDer, validity[1]!) };
}

// ------------------------------------------------------------------ leaves

export interface LeafCertInput {
  // A DNS name, or null for an IP literal (then `ip` holds its bytes).
  dnsName: string | null;
  ip: Uint8Array | null;
  issuer: IssuerFacts;
  issuerKey: CryptoKey; // the CA's private key
  publicKey: CryptoKey; // the leaf's (ECDSA P-256)
  notBefore: Date;
  notAfter: Date;
  serial: Uint8Array;
}

// A server certificate for exactly one name: v3, ecdsa-with-SHA256, subject
// CN=<name> (CN=ip for an address), and in @peculiar/x509's order the
// extensions the gate's leaves always had: subjectAltName (the one DNS name
// or IP), basicConstraints critical CA:FALSE, keyUsage critical
// digitalSignature, extKeyUsage serverAuth, authorityKeyIdentifier, and
// subjectKeyIdentifier.
export async function leafCert(c: LeafCertInput): Promise<Uint8Array> {
  if ((c.dnsName === null) === (c.ip === null)) throw new Error("a leaf names one DNS name or one IP address");
  if (c.dnsName !== null && !/^[\x21-\x7e]+$/.test(c.dnsName)) throw new Error("a DNS name in a certificate is ASCII (IA5String)");
  const san = c.dnsName !== null ? tlv(0x82, new TextEncoder().encode(c.dnsName)) : tlv(0x87, c.ip!);
  const subject = seq(set(seq(oid("2.5.4.3"), dirString(c.dnsName ?? "ip"))));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", c.publicKey));
  const tbs = seq(
    explicit(0, uint(Uint8Array.of(2))),
    uint(c.serial),
    ECDSA_SHA256,
    c.issuer.subject,
    seq(time(c.notBefore), time(c.notAfter)),
    subject,
    spki,
    explicit(
      3,
      seq(
        extension("2.5.29.17", false, seq(san)),
        // cA DEFAULT FALSE: the empty SEQUENCE.
        extension("2.5.29.19", true, seq()),
        // digitalSignature (bit 0): 0b1, seven unused bits.
        extension("2.5.29.15", true, bits(Uint8Array.of(0x80), 7)),
        extension("2.5.29.37", false, seq(oid("1.3.6.1.5.5.7.3.1"))),
        extension("2.5.29.35", false, seq(tlv(0x80, c.issuer.keyId))),
        extension("2.5.29.14", false, octets(await keyId(c.publicKey))),
      ),
    ),
  );
  return signed(tbs, c.issuerKey);
}
