import { MIN_VALUE_LENGTH } from "./dlp/variants.ts";
import { textViews, type TextChar } from "./guard-text.ts";

// The response side of credential injection: the gate puts a real
// credential into requests to its route's host, so that host's responses
// must not hand the value back to the bottle (an upstream that echoes the
// request: httpbin-style /headers, debug endpoints, error pages printing the
// request). Pure logic here; server.ts decides where it applies (see the
// note at the top of server.ts).
//
//  - find(): the token_ref of a credential occurring in a block of bytes
//    (a response head: status line, header names and values).
//  - stream(contentType): body bytes in, bytes safe to forward out. Every
//    occurrence of a credential is replaced by a same-length stand-in, in
//    two views of the body:
//     - the raw bytes (needles below); what is held back between chunks is
//       only the longest suffix that is a proper prefix of some needle;
//     - the text an agent would reassemble (guard-text.ts): JSON strings
//       with their escapes undone, joined per field across SSE events and
//       `data:` lines, so a credential echoed in two text deltas, split
//       over chunks or spelled `\u0073k-…` is found; the raw bytes of every
//       character that could still complete one are held back, and
//       replaced in place (a `\uXXXX` escape by an escape, same length)
//       when it completes.
//    For ordinary text a chunk goes out whole or minus a few bytes, and an
//    SSE event ending in "\n\n" goes out at once unless it ends with the
//    start of a credential. What is held is bounded (HOLD_CAP); past it the
//    oldest bytes go out, and a credential that then completes over bytes
//    already sent cuts the response (`cut`): the bottle gets a part of the
//    value, never the rest.
//
// Needles: every credential value (trimmed, at least MIN_VALUE_LENGTH bytes
// like DLP: shorter values would match ordinary text) raw, plus its
// JSON-escaped and percent-encoded forms when those differ (an echo inside
// a JSON document or a URL). Other encodings (base64, hex) are not matched:
// replacing inside them is meaningless and an upstream that re-encodes the
// request is not an echo.
//
// The stand-in is the bottle's placeholder for that token_ref (the same
// encoding applied), so the agent's tooling sees the value it sent. It has
// the real value's length (credentials.ts makePlaceholder keeps prefix,
// length and separators), which keeps Content-Length framing valid without
// rewriting the head. A placeholder of another length (a hand-written
// policy) or a missing one is never used: the stand-in is then '*' repeated
// to the needle's length. Same length always, so no response is ever cut
// for a length mismatch.

export interface GuardNeedle {
  ref: string;
  value: Buffer;
  replacement: Buffer;
  // Index in ENCODINGS (0: the value as it is).
  encoding: number;
}

export interface GuardPush {
  // Bytes to forward now.
  out: Uint8Array;
  // token_refs replaced in this push (empty: none).
  replaced: string[];
  // A credential completed over bytes already forwarded (or one that could
  // not be replaced in place): its token_ref. Nothing more may go to the
  // client; the caller cuts the response.
  cut?: string;
}

export interface GuardStream {
  push(chunk: Uint8Array): GuardPush;
  // The bytes still held at the end of the body: a proper prefix of some
  // needle, never a whole one, forwarded as they are.
  end(): Uint8Array;
  readonly held: number;
}

export interface ResponseGuard {
  readonly needles: readonly GuardNeedle[];
  find(bytes: Uint8Array): string | null;
  // `contentType`: the response's; text/event-stream is read as SSE.
  stream(contentType?: string | null): GuardStream;
  // push + end over one complete body.
  replaceAll(bytes: Uint8Array): GuardPush;
}

const EMPTY = Buffer.alloc(0);

// The most a stream holds back for characters that could still become a
// credential in the text view (raw bytes between them included).
const HOLD_CAP = 64 * 1024;

// Writes the stand-in over a credential the text view found, character by
// character, each in the form its raw bytes had (same length); characters
// the stand-in shares (the placeholder's prefix) stay as they are, and may
// have gone out already. False: a character to change was forwarded
// already, or was a two-byte escape (\/) whose stand-in has no such escape.
function patchChars(work: Buffer, heldAt: number, chars: readonly TextChar[], n: GuardNeedle): boolean {
  for (const [i, c] of chars.entries()) {
    const at = c.at - heldAt;
    const want = n.replacement[i]!;
    if (want === n.value[i]) continue;
    if (at < 0) return false;
    if (c.form === "lit") work[at] = want;
    else if (c.form === "u") {
      const hex = want.toString(16).padStart(4, "0");
      work.write("\\u" + (c.hexUpper ? hex.toUpperCase() : hex), at, "latin1");
    } else if (want !== n.value[i]) return false;
  }
  return true;
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

// Encodings of a value in which an echo is replaced. Each applies the same
// way to the placeholder, which keeps the lengths equal when the
// placeholder has its separators in the same places.
const ENCODINGS: ((v: string) => string)[] = [
  (v) => v,
  (v) => JSON.stringify(v).slice(1, -1),
  // PHP's json_encode and others escape '/' too.
  (v) => JSON.stringify(v).slice(1, -1).replaceAll("/", "\\/"),
  (v) => encodeURIComponent(v),
];

export function compileResponseGuard(
  credentials: Record<string, string>,
  placeholders: Record<string, string>,
): ResponseGuard | null {
  const needles: GuardNeedle[] = [];
  const seen = new Set<string>();
  for (const [ref, raw] of Object.entries(credentials)) {
    const value = raw.trim();
    if (Buffer.byteLength(value) < MIN_VALUE_LENGTH) continue;
    const ph = placeholders[ref]?.trim();
    for (const [encoding, enc] of ENCODINGS.entries()) {
      const v = enc(value);
      if (seen.has(v)) continue;
      seen.add(v);
      const vb = Buffer.from(v);
      const pb = ph !== undefined ? Buffer.from(enc(ph)) : null;
      const replacement = pb && pb.length === vb.length && !pb.equals(vb) ? pb : Buffer.alloc(vb.length, "*");
      needles.push({ ref, value: vb, replacement, encoding });
    }
  }
  if (needles.length === 0) return null;
  // The text view matches each credential's value as the agent would read
  // it (escapes undone), with the stand-in the raw form uses.
  const textNeedles = needles.filter((n) => n.encoding === 0);
  const newText = textViews(textNeedles.map((n) => ({ value: n.value.toString("latin1"), replacement: n.replacement.toString("latin1") })));
  // Longest first: at one position the longer needle wins (a value that is
  // a prefix of another credential's value).
  needles.sort((a, b) => b.value.length - a.value.length);
  const maxLen = needles[0]!.value.length;
  const first = new Uint8Array(256);
  for (const n of needles) first[n.value[0]!] = 1;

  function find(bytes: Uint8Array): string | null {
    const b = asBuffer(bytes);
    for (const n of needles) if (b.indexOf(n.value) >= 0) return n.ref;
    return null;
  }

  // Replaces every occurrence in `work` at or after 0, leftmost first, and
  // returns the pieces plus the end of the last replacement.
  function replaceIn(work: Buffer): { pieces: Uint8Array[] | null; last: number; replaced: string[] } {
    const next = new Array<number>(needles.length);
    for (let i = 0; i < needles.length; i++) next[i] = work.indexOf(needles[i]!.value);
    let pieces: Uint8Array[] | null = null;
    const replaced: string[] = [];
    let last = 0;
    for (;;) {
      let best = -1;
      let at = -1;
      for (let i = 0; i < needles.length; i++) {
        if (next[i]! >= 0 && next[i]! < last) next[i] = work.indexOf(needles[i]!.value, last);
        const p = next[i]!;
        if (p >= 0 && (at < 0 || p < at)) {
          at = p;
          best = i;
        }
      }
      if (best < 0) return { pieces, last, replaced };
      const n = needles[best]!;
      (pieces ??= []).push(work.subarray(last, at), n.replacement);
      if (!replaced.includes(n.ref)) replaced.push(n.ref);
      last = at + n.value.length;
    }
  }

  // Start of the longest suffix of work[from..] that is a proper prefix of
  // some needle; work.length when there is none.
  function holdStart(work: Buffer, from: number): number {
    const len = work.length;
    for (let p = Math.max(from, len - (maxLen - 1)); p < len; p++) {
      if (first[work[p]!] === 0) continue;
      const rest = len - p;
      for (const n of needles) {
        if (n.value.length > rest && n.value[0] === work[p] && work.compare(n.value, 0, rest, p, len) === 0) return p;
      }
    }
    return len;
  }

  function stream(contentType: string | null = null): GuardStream {
    const text = newText(/^\s*text\/event-stream\b/i.test(contentType ?? ""));
    // Bytes not forwarded yet (our own copy: patched in place), and the
    // body offset of held[0].
    let held: Buffer = EMPTY;
    let heldAt = 0;
    let cut: string | null = null;
    return {
      get held() {
        return held.length;
      },
      push(chunk: Uint8Array): GuardPush {
        if (cut !== null) return { out: EMPTY, replaced: [], cut };
        const work = held.length === 0 ? Buffer.from(chunk) : Buffer.concat([held, chunk]);
        const { pieces, last, replaced } = replaceIn(work);
        // The raw replacements, written into our copy (same lengths).
        if (pieces) Buffer.concat([...pieces, work.subarray(last)]).copy(work);
        for (const m of text.push(chunk)) {
          const n = textNeedles[m.needle]!;
          if (!patchChars(work, heldAt, m.chars, n)) {
            cut = n.ref;
            held = EMPTY;
            return { out: EMPTY, replaced, cut };
          }
          if (!replaced.includes(n.ref)) replaced.push(n.ref);
        }
        let release = Math.min(holdStart(work, last), Math.max(0, text.pendingFrom - heldAt));
        // Bounded: past HOLD_CAP the oldest bytes go (see `cut`).
        if (work.length - release > HOLD_CAP) release = Math.min(holdStart(work, last), work.length - HOLD_CAP);
        held = release < work.length ? work.subarray(release) : EMPTY;
        heldAt += release;
        return { out: work.subarray(0, release), replaced };
      },
      end(): Uint8Array {
        const h = cut === null ? held : EMPTY;
        held = EMPTY;
        return h;
      },
    };
  }

  return {
    needles,
    find,
    stream,
    replaceAll(bytes: Uint8Array): GuardPush {
      const s = stream();
      const r = s.push(bytes);
      const tail = s.end();
      return tail.length === 0 ? r : { out: Buffer.concat([r.out, tail]), replaced: r.replaced };
    },
  };
}
