import type { AuthConfig } from "../manifest/schema.ts";
import type { HeaderList } from "./http/head.ts";

// Placeholders: what the bottle holds instead of a real credential. Same
// prefix (`sk-ant-api03-`, `ghp_`, `xoxb-`...) and same length and character
// classes as the real value, so that clients which validate a token's shape
// before sending it still accept it. The body is random, so a placeholder
// reveals nothing but the prefix and length.

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = LOWER.toUpperCase();
const DIGIT = "0123456789";

// The prefix runs up to and including the last '-' or '_' within the first
// 16 characters (`sk-ant-api03-`, `ghp_`, `github_pat_`); none: no prefix.
export function placeholderPrefix(real: string): string {
  const head = real.slice(0, 16);
  const cut = Math.max(head.lastIndexOf("-"), head.lastIndexOf("_"));
  return cut >= 0 ? real.slice(0, cut + 1) : "";
}

export function makePlaceholder(real: string): string {
  let prefix = placeholderPrefix(real);
  let body = real.slice(prefix.length);
  // Nothing random left after the prefix (e.g. "abc-"): randomise it all.
  if (!/[A-Za-z0-9]/.test(body)) {
    prefix = "";
    body = real;
  }
  if (!/[A-Za-z0-9]/.test(body)) return "x".repeat(real.length);
  for (;;) {
    let out = prefix;
    for (const ch of body) out += sameClass(ch);
    if (out !== real) return out;
  }
}

// Uniform in [0, n): rejection sampling over 32-bit draws, as node's
// crypto.randomInt does (WebCrypto here: node:crypto costs every process
// that loads it about 2 ms of start-up).
function randomBelow(n: number): number {
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const draw = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(draw);
    if (draw[0]! < limit) return draw[0]! % n;
  }
}

function sameClass(ch: string): string {
  if (ch >= "a" && ch <= "z") return LOWER[randomBelow(LOWER.length)]!;
  if (ch >= "A" && ch <= "Z") return UPPER[randomBelow(UPPER.length)]!;
  if (ch >= "0" && ch <= "9") return DIGIT[randomBelow(DIGIT.length)]!;
  // Separators inside the body ('-', '_', '.') keep their place.
  return ch;
}

// Put the real credential into the route's configured header. Whatever the
// client sent in that header is dropped: it is either the placeholder, or
// something the route's credential overrides anyway. Header names compare
// case-insensitively; the rest of the list is left untouched.
export function injectCredential(headers: HeaderList, auth: AuthConfig, real: string): HeaderList {
  const name = auth.header.toLowerCase();
  const value = auth.scheme ? `${auth.scheme} ${real}` : real;
  const out: HeaderList = [];
  let placed = false;
  for (const h of headers) {
    if (h[0].toLowerCase() !== name) {
      out.push(h);
    } else if (!placed) {
      out.push([h[0], value]);
      placed = true;
    }
  }
  if (!placed) out.push([auth.header, value]);
  return out;
}

// The headers that DLP must see for an auth route: all but the one the gate
// is about to overwrite (it carries the placeholder legitimately).
export function withoutHeader(headers: HeaderList, name: string): HeaderList {
  const n = name.toLowerCase();
  return headers.filter((h) => h[0].toLowerCase() !== n);
}
