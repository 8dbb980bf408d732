// The encodings in which the bottle's own secret values and placeholders are
// searched for. All variants are computed once, in compileDlp; at scan time
// they are plain literals in the automaton.
//
// Decisions (documented for users in the DLP notes of index.ts):
//  - MIN_VALUE_LENGTH = 8: a shorter value ("dev", "1234", "true") would match
//    ordinary text everywhere and block normal work, so it is not matched as
//    a value at all. Values are trimmed of surrounding whitespace first.
//  - MAX_MATCH_BYTES = 128: a value up to 128 bytes is matched whole. A
//    longer one (a PEM key, a JSON credentials file) is matched over its
//    whole length, as consecutive PIECE-byte pieces: any PIECE * 2 - 1
//    bytes of it contain a whole piece, so its tail without its head (a PEM
//    key minus its BEGIN line) is found like its head. A value with line
//    breaks or other whitespace is matched with them removed too (a PEM
//    body joined onto one line). The first piece is matched in every
//    encoding below, the others raw, JSON-escaped, URL-encoded, in hex and
//    in base64 (what a key's body is carried in), the whitespace-free form
//    raw: a few hundred literals for a 4096-bit PEM key, not thousands.
//    Pieces keep the streaming overlap the scanner must hold bounded.
//  - base64: a value embedded at any byte offset inside a larger base64
//    payload (e.g. `Basic base64(user:secret)`) appears as one of three
//    "cores", one per alignment, with the characters that depend on
//    neighbouring bytes cut off. Standard and URL-safe alphabets; padding
//    never matters because the cores exclude it.
//  - base32 (RFC 4648, no padding): five cores, one per alignment, like
//    base64. Upper case only: host names (where DNS exfiltration tools put
//    it, in lower case) are matched case-insensitively anyway, and a second
//    case in bodies cost a quarter of the scan rate on base64-heavy bodies
//    (bench/dlp.ts); a random-looking lower-case token in a URL is the
//    entropy check's.
//  - hex: lower and upper case. URL encoding: encodeURIComponent, the form
//    encoding (space as +), and every byte as %XX in upper and lower case.
//    Mixed-case %xX and partial encodings are handled in URLs by scanning
//    the percent-decoded URL as well.
//  - JSON string escaping (quotes, backslashes, newlines) when it differs.

export const MIN_VALUE_LENGTH = 8;
export const MAX_MATCH_BYTES = 128;
const PIECE = 64;
// A base64 core shorter than this is too weak to match on its own.
const MIN_CORE = 8;

export interface Variant {
  kind: "raw" | "uri" | "form" | "pct-upper" | "pct-lower" | "json" | "hex-lower" | "hex-upper" | "base64" | "base64url" | "base32";
  bytes: Uint8Array;
}

const enc = new TextEncoder();

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

export function base64Cores(value: Uint8Array): string[] {
  return cores(value, 3, 6, (b) => Buffer.from(b).toString("base64"));
}

// The characters of `encode(value)` at each alignment (0 to width-1 unknown
// bytes before the value) that the value's own bits fully determine: the
// ones mixing in unknown leading bytes are skipped, the encoding stops
// before the ones that would mix in unknown trailing bytes.
function cores(value: Uint8Array, width: number, bits: number, encode: (b: Uint8Array) => string): string[] {
  const out: string[] = [];
  const n = value.length;
  for (let o = 0; o < width; o++) {
    const padded = new Uint8Array(o + n);
    padded.set(value, o);
    const start = Math.ceil((o * 8) / bits);
    const end = Math.floor(((o + n) * 8) / bits);
    if (end - start >= MIN_CORE) out.push(encode(padded).slice(start, end));
  }
  return out;
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

// As base64Cores, five alignments of 5-bit characters.
export function base32Cores(value: Uint8Array): string[] {
  return cores(value, 5, 5, base32);
}

function pct(bytes: Uint8Array, upper: boolean): string {
  let s = "";
  for (const b of bytes) {
    const h = b.toString(16).padStart(2, "0");
    s += "%" + (upper ? h.toUpperCase() : h);
  }
  return s;
}

// Cuts a UTF-8 byte string at a character boundary at most `max` bytes long.
function cutUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

// Returns the distinct variants of `value`, or [] when the value is too
// short to be matched.
export function secretVariants(value: string): Variant[] {
  const trimmed = value.trim();
  if (trimmed.length < MIN_VALUE_LENGTH) return [];
  const out: Variant[] = [];
  const seen = new Set<string>();
  const bytes = enc.encode(trimmed);
  // Every encoding of a short value and of a long value's first piece; the
  // ways a long value's body is usually carried (raw, in JSON or a URL,
  // hex, base64) for its other pieces: every encoding of every piece of a
  // 3 KiB key would be thousands of literals and seconds of start-up.
  pieces(bytes).forEach((p, i) => encodings(p, out, seen, i === 0 ? ALL : BODY));
  // A value with whitespace inside (a PEM key, wrapped base64) sent with the
  // whitespace removed.
  if (/\s/.test(trimmed)) {
    const compact = enc.encode(trimmed.replace(/\s+/g, ""));
    if (compact.length >= MIN_VALUE_LENGTH) for (const p of pieces(compact)) encodings(p, out, seen, RAW);
  }
  return out;
}

// The value itself, or consecutive PIECE-byte pieces of a long one (cut at
// UTF-8 character boundaries; the last piece ends at the value's end and
// may overlap the one before it).
function pieces(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length <= MAX_MATCH_BYTES) return [bytes];
  const out: Uint8Array[] = [];
  let at = 0;
  while (bytes.length - at > PIECE) {
    const p = cutUtf8(bytes.subarray(at), PIECE);
    out.push(p);
    at += p.length;
  }
  let last = bytes.length - PIECE;
  while (last > 0 && (bytes[last]! & 0xc0) === 0x80) last--;
  out.push(bytes.subarray(last));
  return out;
}

const ALL = new Set<Variant["kind"]>(["raw", "uri", "form", "pct-upper", "pct-lower", "json", "hex-lower", "hex-upper", "base64", "base64url", "base32"]);
const BODY = new Set<Variant["kind"]>(["raw", "uri", "json", "hex-lower", "base64"]);
const RAW = new Set<Variant["kind"]>(["raw"]);

function encodings(raw: Uint8Array, out: Variant[], seen: Set<string>, kinds: Set<Variant["kind"]>): void {
  const text = new TextDecoder().decode(raw);
  const add = (kind: Variant["kind"], s: string | Uint8Array): void => {
    if (!kinds.has(kind)) return;
    const bytes = typeof s === "string" ? enc.encode(s) : s;
    const key = latin1(bytes);
    if (bytes.length < MIN_VALUE_LENGTH || seen.has(key)) return;
    seen.add(key);
    out.push({ kind, bytes });
  };
  add("raw", raw);
  const uri = encodeURIComponent(text);
  add("uri", uri);
  add("form", uri.replace(/%20/g, "+"));
  add("pct-upper", pct(raw, true));
  add("pct-lower", pct(raw, false));
  add("json", JSON.stringify(text).slice(1, -1));
  const hex = Buffer.from(raw).toString("hex");
  add("hex-lower", hex);
  add("hex-upper", hex.toUpperCase());
  for (const core of base64Cores(raw)) {
    add("base64", core);
    add("base64url", core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  for (const core of base32Cores(raw)) add("base32", core);
}
