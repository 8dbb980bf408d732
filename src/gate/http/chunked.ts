// Streaming, strict decoder for `Transfer-Encoding: chunked`. Used for
// request bodies (the gate reframes what it forwards) and to find where a
// chunked response ends (the raw bytes are relayed unchanged). Strict means:
// CRLF everywhere (no bare LF), hex sizes without whitespace or sign, at most
// 12 hex digits, extensions exactly as RFC 9112 §7.1.1 spells them but with
// no whitespace at all (as llhttp), bounded extensions and trailers.
// Extensions are checked and dropped; trailers are read and dropped.
//
// Hand-written, not a library: it runs on every body byte, must stop exactly
// at the final CRLF of a stream that continues, and must be stricter than
// every parser on either side of the gate (a byte one of them reads
// differently is a smuggling vector).

export class ChunkedError extends Error {}

const enum S {
  Size,
  ExtName, // just after ";": a token must follow
  ExtNameMore,
  ExtValue, // just after "=": a token or a quoted-string must follow
  ExtToken,
  ExtQuoted,
  ExtQuotedPair,
  ExtQuotedEnd,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerName,
  TrailerValue,
  TrailerLf,
  FinalLf,
  Done,
}

export const MAX_SIZE_DIGITS = 12;
export const MAX_EXT = 4096;
export const MAX_TRAILERS = 16 * 1024;

// tchar (RFC 9110 §5.6.2): the characters of a token.
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

// qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR except DQUOTE and backslash, obs-text.
const qdtext = (c: number) => c === 9 || c === 32 || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80;
// What may follow a backslash in a quoted-pair: HTAB, SP, VCHAR, obs-text.
const quotable = (c: number) => c === 9 || (c >= 0x20 && c <= 0x7e) || c >= 0x80;

// One byte of a chunk-ext = *( ";" token [ "=" ( token / quoted-string ) ] ),
// RFC 9112 §7.1.1 without its BWS: whitespace in a chunk line is refused.
function extStep(s: S, c: number): S {
  switch (s) {
    case S.ExtName: // just after ";"
      if (TCHAR[c]) return S.ExtNameMore;
      break;
    case S.ExtValue: // just after "="
      if (TCHAR[c]) return S.ExtToken;
      if (c === 34 /* " */) return S.ExtQuoted;
      break;
    case S.ExtQuoted:
      if (c === 34) return S.ExtQuotedEnd;
      if (c === 92 /* \ */) return S.ExtQuotedPair;
      if (qdtext(c)) return S.ExtQuoted;
      break;
    case S.ExtQuotedPair:
      if (quotable(c)) return S.ExtQuoted;
      break;
    default: // after a name, a token value or a closing quote
      if ((s === S.ExtNameMore || s === S.ExtToken) && TCHAR[c]) return s;
      if (s === S.ExtNameMore && c === 61 /* = */) return S.ExtValue;
      if (c === 59 /* ; */) return S.ExtName;
      if (c === 13) return S.SizeLf;
  }
  throw new ChunkedError("invalid chunk extension");
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export class ChunkedDecoder {
  private s = S.Size;
  // Payload ranges found by the current push, as [start, end) pairs: no
  // object per chunk, however small the chunks (a body of one-byte chunks
  // is ten thousand of them per 64 KiB read).
  private ranges: number[] = [];
  private size = 0;
  private digits = 0;
  private ext = 0;
  private remaining = 0;
  private trailerBytes = 0;
  // Payload bytes decoded so far.
  decoded = 0;

  get done(): boolean {
    return this.s === S.Done;
  }

  // Every byte of a chunk-ext counts, from its first ";" to the CR.
  private countExt(): void {
    if (++this.ext > MAX_EXT) throw new ChunkedError("chunk extension too long");
  }

  // Every byte of the field lines counts, their CRLFs included.
  private countTrailer(): void {
    if (++this.trailerBytes > MAX_TRAILERS) throw new ChunkedError("trailers too large");
  }

  // `payload: false`: only find where the body ends (a relay that forwards
  // the raw bytes); push() then returns no data.
  constructor(private readonly payload = true) {}

  // Feed bytes. Returns the payload found in `buf` as at most one piece (a
  // view when it is one run of bytes, else a copy joining the runs) and
  // `end`: the index just past the message's final CRLF when the body ended
  // inside `buf`, else -1. Throws ChunkedError on bad input.
  push(buf: Uint8Array): { data: Uint8Array[]; end: number } {
    this.ranges.length = 0;
    const end = this.walk(buf);
    return { data: this.payload ? this.collect(buf) : [], end };
  }

  private collect(buf: Uint8Array): Uint8Array[] {
    const r = this.ranges;
    if (r.length === 0) return [];
    if (r.length === 2) return [buf.subarray(r[0]!, r[1]!)];
    let total = 0;
    for (let k = 0; k < r.length; k += 2) total += r[k + 1]! - r[k]!;
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (let k = 0; k < r.length; k += 2) {
      const from = r[k]!;
      const to = r[k + 1]!;
      // Short runs byte by byte: a view per run is the object per chunk
      // this avoids.
      if (to - from < 64) for (let j = from; j < to; j++) out[at++] = buf[j]!;
      else {
        out.set(buf.subarray(from, to), at);
        at += to - from;
      }
    }
    return [out];
  }

  private walk(buf: Uint8Array): number {
    let i = 0;
    const n = buf.length;
    while (i < n) {
      const c = buf[i]!;
      switch (this.s) {
        case S.Size: {
          const h = hexVal(c);
          if (h >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) throw new ChunkedError("chunk size too large");
            this.size = this.size * 16 + h;
            i++;
          } else if (this.digits === 0) {
            throw new ChunkedError("missing chunk size");
          } else if (c === 59 /* ; */) {
            this.s = S.ExtName;
            this.countExt();
            i++;
          } else if (c === 13) {
            this.s = S.SizeLf;
            i++;
          } else {
            throw new ChunkedError("invalid chunk size");
          }
          break;
        }
        case S.ExtName:
        case S.ExtNameMore:
        case S.ExtValue:
        case S.ExtToken:
        case S.ExtQuoted:
        case S.ExtQuotedPair:
        case S.ExtQuotedEnd:
          this.s = extStep(this.s, c);
          if (this.s !== S.SizeLf) this.countExt();
          i++;
          break;
        case S.SizeLf: {
          if (c !== 10) throw new ChunkedError("expected LF after chunk size");
          i++;
          if (this.size === 0) {
            this.s = S.TrailerStart;
          } else {
            this.remaining = this.size;
            this.s = S.Data;
          }
          this.size = 0;
          this.digits = 0;
          this.ext = 0;
          break;
        }
        case S.Data: {
          const take = Math.min(this.remaining, n - i);
          if (this.payload) this.ranges.push(i, i + take);
          this.decoded += take;
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.s = S.DataCr;
          break;
        }
        case S.DataCr:
          if (c !== 13) throw new ChunkedError("expected CRLF after chunk data");
          this.s = S.DataLf;
          i++;
          break;
        case S.DataLf:
          if (c !== 10) throw new ChunkedError("expected CRLF after chunk data");
          this.s = S.Size;
          i++;
          break;
        // trailer-section = *( field-line CRLF ), field-line = field-name ":"
        // OWS field-value OWS (RFC 9112 §7.1.2, §5): a token, a colon, then
        // SP, HTAB, VCHAR or obs-text. No obs-fold, no bare CR or LF.
        case S.TrailerStart:
          if (c === 13) {
            this.s = S.FinalLf;
            i++;
            break;
          }
          if (c === 32 || c === 9) throw new ChunkedError("obsolete line folding in trailer");
          if (!TCHAR[c]) throw new ChunkedError("invalid trailer field name");
          this.s = S.TrailerName;
          this.countTrailer();
          i++;
          break;
        case S.TrailerName:
          if (c === 58 /* : */) this.s = S.TrailerValue;
          else if (!TCHAR[c]) throw new ChunkedError("invalid trailer field name");
          this.countTrailer();
          i++;
          break;
        case S.TrailerValue:
          if (c === 13) this.s = S.TrailerLf;
          else if (!(c === 9 || (c >= 32 && c !== 127))) throw new ChunkedError("invalid trailer field value");
          this.countTrailer();
          i++;
          break;
        case S.TrailerLf:
          if (c !== 10) throw new ChunkedError("bare CR in trailer");
          this.s = S.TrailerStart;
          this.countTrailer();
          i++;
          break;
        case S.FinalLf:
          if (c !== 10) throw new ChunkedError("bare CR at end of chunked body");
          this.s = S.Done;
          i++;
          return i;
        case S.Done:
          return i;
      }
    }
    return -1;
  }
}

export function encodeChunk(data: Uint8Array): Uint8Array[] {
  if (data.length === 0) return [];
  return [Buffer.from(data.length.toString(16) + "\r\n", "latin1"), data, Buffer.from("\r\n", "latin1")];
}

export const LAST_CHUNK = Buffer.from("0\r\n\r\n", "latin1");
