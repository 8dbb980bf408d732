import { MIN_VALUE_LENGTH } from "./dlp/variants.ts";

// The response side of credential injection: the gate puts a real
// credential into requests to its route's host, so that host's responses
// must not hand the value back to the bottle (an upstream that echoes the
// request: httpbin-style /headers, debug endpoints, error pages printing the
// request). Pure logic here; server.ts decides where it applies (see the
// note at the top of server.ts).
//
//  - find(): the token_ref of a credential occurring in a block of bytes
//    (a response head: status line, header names and values).
//  - stream(): body bytes in, bytes safe to forward out. Every occurrence
//    of a credential is replaced by a same-length stand-in; what is held
//    back between chunks is only the longest suffix that is a proper prefix
//    of some needle (exact check, not a fixed tail), so for ordinary text
//    a chunk goes out whole or minus a byte or two, and an SSE event ending
//    in "\n\n" goes out at once.
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
}

export interface GuardPush {
  // Bytes to forward now (a view of the input when nothing was replaced or
  // held from before).
  out: Uint8Array;
  // token_refs replaced in this push (empty: none).
  replaced: string[];
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
  stream(): GuardStream;
  // push + end over one complete body.
  replaceAll(bytes: Uint8Array): GuardPush;
}

const EMPTY = Buffer.alloc(0);

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
    for (const enc of ENCODINGS) {
      const v = enc(value);
      if (seen.has(v)) continue;
      seen.add(v);
      const vb = Buffer.from(v);
      const pb = ph !== undefined ? Buffer.from(enc(ph)) : null;
      const replacement = pb && pb.length === vb.length && !pb.equals(vb) ? pb : Buffer.alloc(vb.length, "*");
      needles.push({ ref, value: vb, replacement });
    }
  }
  if (needles.length === 0) return null;
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

  function stream(): GuardStream {
    let held: Buffer = EMPTY;
    return {
      get held() {
        return held.length;
      },
      push(chunk: Uint8Array): GuardPush {
        const work = held.length === 0 ? asBuffer(chunk) : Buffer.concat([held, chunk]);
        const { pieces, last, replaced } = replaceIn(work);
        const h = holdStart(work, last);
        // Copy what is held: the chunk's buffer is not ours to keep.
        held = h < work.length ? Buffer.from(work.subarray(h)) : EMPTY;
        if (!pieces) return { out: work.subarray(0, h), replaced };
        pieces.push(work.subarray(last, h));
        return { out: Buffer.concat(pieces), replaced };
      },
      end(): Uint8Array {
        const h = held;
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
