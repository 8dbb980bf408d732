import { letterPairScore } from "./bigrams.ts";

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
  if (alnum < MIN_TOKEN || letters === 0) return false;
  // Letters only, or letters with too few digits for the shape tests
  // below: a random value encoded in letters is as random as one with
  // digits, and only the letter pairs tell it from words.
  if (digits === 0) return lettersLookRandom(t);
  const vowelRatio = vowels / letters;
  const switchRatio = switches / (alnum - 1);
  const mixedCase = upper > 0 && lower > 0;
  // Random letters are ~19 % vowels; allow more spread on long tokens,
  // where identifiers this long without separators do not occur anyway.
  const maxVowels = alnum >= 40 ? 0.36 : 0.3;
  if (mixedCase) {
    // base62 / base64: expected switch ratio ~0.6.
    if (switchRatio >= 0.35 && vowelRatio <= maxVowels && shannon(t) >= 3.7) return true;
  } else if (alnum >= MIN_TOKEN_SINGLE_CASE) {
    // One case plus digits: base36 (digits ~28 %, switch ratio ~0.4) or
    // base32 (digits 2-7 only: ~19 % digits, switch ratio ~0.3). Words
    // with this many digits switching this often do not occur, so the
    // vowel bound is looser than for mixed case (a random letter is a
    // vowel 19 % of the time, but over 18 letters 0.33 is not rare).
    if (switchRatio >= 0.2 && digits / alnum >= 0.1 && vowelRatio <= 0.36 && shannon(t) >= 3.5) return true;
  }
  // The shape tests miss some random tokens (few digits by chance, a run
  // of one class): their letters still give them away.
  return lettersLookRandom(t);
}

// Letter pairs English text would rarely have (bigrams.ts), over at least
// MIN_LETTER_PAIRS pairs (in a token of at least MIN_TOKEN characters):
// random letters average about -2 bits a pair, words and names in any
// Latin-script language almost always stay above -0.5
// (test/unit/gate/dlp/entropy-hosts.test.ts holds the corpus).
const MAX_RANDOM_LETTERS_SCORE = -0.5;
const MIN_LETTER_PAIRS = 14;

function lettersLookRandom(t: string): boolean {
  const { mean, pairs } = letterPairScore(t);
  if (pairs < MIN_LETTER_PAIRS || mean >= MAX_RANDOM_LETTERS_SCORE) return false;
  // "abcdefghijklmnopqrstuvwxyz" (a charset, test data) is rare pairs
  // too, but not random: most steps go to the next letter.
  let steps = 0;
  for (let i = 1; i < t.length; i++) if ((t.charCodeAt(i) | 0x20) - (t.charCodeAt(i - 1) | 0x20) === 1) steps++;
  return steps * 2 < pairs;
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
