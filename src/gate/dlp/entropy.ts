// High-entropy token check for URLs: an unknown secret (one the gate was
// not told about, e.g. read from a file in the workspace) smuggled out in a
// GET path, a query value or a subdomain label.
//
// Shannon entropy alone separates nothing at URL token lengths: a 22-char
// camelCase identifier ("getUserProfileById2024") scores as high as a random
// key. What separates them is shape. A random base62/base64 token mixes upper
// case, lower case and digits, switches character class on most positions
// and has few vowels (about 1 letter in 5); identifiers and slugs switch
// class only at word boundaries and are about 40 % vowels.
//
// Deliberately NOT flagged (ordinary URLs the agent must be able to use):
//  - tokens shorter than MIN_TOKEN (20) characters: /v1/messages, ids, short
//    asset hashes (index-BxK9mZ2q.js), video ids;
//  - hexadecimal tokens up to 128 hex digits, with or without dashes: git
//    SHAs (/commits/<sha>), UUIDs, sha256/sha512 digests in registry and
//    CDN paths. A hex-encoded *own* secret is still caught by exact
//    matching;
//  - numbers, dates, version strings, slugs (lowercase words and dashes).
// Known false positives (use `dlp: off` on the route if the agent needs
// them): Google Docs/Drive ids, opaque pagination cursors and presigned URL
// signatures/tokens in query strings.

export const MIN_TOKEN = 20;
// Lowercase-or-uppercase-only alphabets (base32/base36, DNS exfiltration)
// carry less per character: require more of them.
const MIN_TOKEN_SINGLE_CASE = 24;
const MAX_HEX_EXEMPT = 128;

const VOWELS = new Set("aeiouAEIOU");

function charClass(c: number): number {
  if (c >= 0x30 && c <= 0x39) return 1; // digit
  if (c >= 0x41 && c <= 0x5a) return 2; // upper
  if (c >= 0x61 && c <= 0x7a) return 3; // lower
  return 0;
}

function shannon(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

// Hex in a host label is the classic DNS-tunnel encoding and, unlike in
// paths, legitimate hosts rarely carry long hex: only short hex labels
// (CDN distribution ids and the like) are exempt there.
const MAX_HEX_EXEMPT_HOST = 31;

export type Place = "host" | "path" | "query";

// Is this single token (no separators inside except -_+=) random-looking?
export function isHighEntropyToken(token: string, place: Place = "path"): boolean {
  const t = token.replace(/=+$/, "");
  if (t.length < MIN_TOKEN) return false;
  if (/^[0-9a-fA-F-]+$/.test(t)) {
    const digits = t.replace(/-/g, "").length;
    return digits > (place === "host" ? MAX_HEX_EXEMPT_HOST : MAX_HEX_EXEMPT);
  }
  let digits = 0;
  let upper = 0;
  let lower = 0;
  let vowels = 0;
  let switches = 0;
  let prev = -1;
  let alnum = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    const k = charClass(c);
    if (k === 1) digits++;
    else if (k === 2) upper++;
    else if (k === 3) lower++;
    if (k !== 0) {
      alnum++;
      if (prev !== -1 && k !== prev) switches++;
      prev = k;
      if (VOWELS.has(t[i]!)) vowels++;
    }
  }
  const letters = upper + lower;
  if (alnum < MIN_TOKEN || letters === 0 || digits === 0) return false;
  const vowelRatio = vowels / letters;
  const switchRatio = switches / (alnum - 1);
  const mixedCase = upper > 0 && lower > 0;
  // Random letters are ~19 % vowels; allow more spread on long tokens,
  // where identifiers this long without separators do not occur anyway.
  const maxVowels = alnum >= 40 ? 0.36 : 0.3;
  if (mixedCase) {
    // base62 / base64: expected switch ratio ~0.6.
    return switchRatio >= 0.35 && vowelRatio <= maxVowels && shannon(t) >= 3.7;
  }
  // One case plus digits: base36 (digits ~28 %, switch ratio ~0.4) or
  // base32 (digits 2-7 only: ~19 % digits, switch ratio ~0.3).
  if (alnum < MIN_TOKEN_SINGLE_CASE) return false;
  return switchRatio >= 0.2 && digits / alnum >= 0.1 && vowelRatio <= maxVowels && shannon(t) >= 3.7;
}

// Splits text into candidate tokens: runs of base64/base64url characters.
// `/` separates tokens in paths (path segments) but belongs to standard
// base64 in query values, hence the flag.
export function findHighEntropy(text: string, place: Place): boolean {
  const re = place === "query" ? /[A-Za-z0-9+/_=-]{20,}/g : /[A-Za-z0-9+_=-]{20,}/g;
  for (const m of text.matchAll(re)) {
    if (isHighEntropyToken(m[0], place)) return true;
    // A token built from several random parts joined by - or _ (base64url)
    // is also checked part by part when long enough.
    if (/[-_]/.test(m[0])) {
      for (const part of m[0].split(/[-_]+/)) if (isHighEntropyToken(part, place)) return true;
    }
  }
  return false;
}
