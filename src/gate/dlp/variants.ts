// The encodings in which the bottle's own secret values and placeholders are
// searched for. All variants are computed once, in compileDlp; at scan time
// they are plain literals in the automaton.
//
// Decisions (documented for users in the DLP notes of index.ts):
//  - MIN_VALUE_LENGTH = 8: a shorter value ("dev", "1234", "true") would match
//    ordinary text everywhere and block normal work, so it is not matched as
//    a value at all. Values are trimmed of surrounding whitespace first.
//  - MAX_MATCH_BYTES = 128: only the first 128 bytes of a long value (a PEM
//    key, a JSON credentials file) are matched. That prefix is as unique as
//    the whole, and it bounds the streaming overlap the scanner must keep.
//  - base64: a value embedded at any byte offset inside a larger base64
//    payload (e.g. `Basic base64(user:secret)`) appears as one of three
//    "cores", one per alignment, with the characters that depend on
//    neighbouring bytes cut off. Standard and URL-safe alphabets; padding
//    never matters because the cores exclude it.
//  - hex: lower and upper case. URL encoding: encodeURIComponent, the form
//    encoding (space as +), and every byte as %XX in upper and lower case.
//    Mixed-case %xX and partial encodings are handled in URLs by scanning
//    the percent-decoded URL as well.
//  - JSON string escaping (quotes, backslashes, newlines) when it differs.

export const MIN_VALUE_LENGTH = 8;
export const MAX_MATCH_BYTES = 128;
// A base64 core shorter than this is too weak to match on its own.
const MIN_CORE = 8;

export interface Variant {
  kind: "raw" | "uri" | "form" | "pct-upper" | "pct-lower" | "json" | "hex-lower" | "hex-upper" | "base64" | "base64url";
  bytes: Uint8Array;
}

const enc = new TextEncoder();

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

export function base64Cores(value: Uint8Array): string[] {
  const cores: string[] = [];
  const n = value.length;
  for (let o = 0; o < 3; o++) {
    const padded = new Uint8Array(o + n);
    padded.set(value, o);
    const b64 = Buffer.from(padded).toString("base64");
    // Characters fully determined by the value's own bits: skip the ones
    // that mix in the o unknown leading bytes, stop before the ones that
    // would mix in unknown trailing bytes.
    const start = Math.ceil((o * 8) / 6);
    const end = Math.floor(((o + n) * 8) / 6);
    if (end - start >= MIN_CORE) cores.push(b64.slice(start, end));
  }
  return cores;
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
  const raw = cutUtf8(enc.encode(trimmed), MAX_MATCH_BYTES);
  const text = new TextDecoder().decode(raw);
  const out: Variant[] = [];
  const seen = new Set<string>();
  const add = (kind: Variant["kind"], s: string | Uint8Array): void => {
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
  return out;
}
