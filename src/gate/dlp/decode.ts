import * as zlib from "node:zlib";

// Synchronous, streaming Content-Encoding decoders for the body scanner.
//
// Why not zlib.createGunzip() as a stream: its output arrives
// asynchronously, but BodyScanner.push() must answer synchronously. And the
// *Sync helpers (gunzipSync) need the whole body. So this drives the zlib
// handle the way node:zlib's own sync path does (handle.writeSync into a
// fixed output buffer, looping while the output buffer fills up), but keeps
// the handle open between chunks. The output buffer is reused: every piece
// is handed to `sink` and scanned before the next write, so memory stays at
// one buffer however large the decompressed body is (a decompression bomb
// costs CPU, bounded by the caller's decoded-size limit, not memory).

export class DecodeError extends Error {}

type Sink = (piece: Uint8Array) => void;

export interface StreamDecoder {
  write(chunk: Uint8Array, sink: Sink): void;
  finish(sink: Sink): void;
  // Frees the native handle early (after a finding, say).
  close(): void;
}

const OUT = 64 * 1024;

interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

type Kind = "gzip" | "zlib" | "raw" | "br";

class ZlibDecoder implements StreamDecoder {
  private readonly engine: zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress;
  private readonly handle: ZlibHandle;
  private readonly writeState: Uint32Array;
  private readonly out = new Uint8Array(OUT);
  private error: string | null = null;
  private done = false;
  private readonly flushFlag: number;
  private readonly finishFlag: number;

  constructor(kind: Kind) {
    this.engine =
      kind === "gzip"
        ? zlib.createGunzip()
        : kind === "zlib"
          ? zlib.createInflate()
          : kind === "raw"
            ? zlib.createInflateRaw()
            : zlib.createBrotliDecompress();
    const e = this.engine as unknown as { _handle?: ZlibHandle; _writeState?: Uint32Array };
    if (!e._handle || !e._writeState) throw new Error("node:zlib internals changed: no sync handle");
    this.handle = e._handle;
    this.writeState = e._writeState;
    // Errors are reported synchronously through the handle's onerror
    // during writeSync (the stream's 'error' event would come later).
    this.handle.onerror = (message) => {
      this.error = message;
    };
    this.engine.on("error", () => {});
    this.flushFlag = kind === "br" ? zlib.constants.BROTLI_OPERATION_PROCESS : zlib.constants.Z_SYNC_FLUSH;
    this.finishFlag = kind === "br" ? zlib.constants.BROTLI_OPERATION_FINISH : zlib.constants.Z_FINISH;
  }

  private run(flag: number, input: Uint8Array, sink: Sink): void {
    if (this.done) {
      // Data after the end of the compressed stream: the upstream would
      // ignore or reject it; we cannot scan it as decoded data. Refuse.
      if (input.length > 0) throw new DecodeError("data after end of compressed stream");
      return;
    }
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      this.handle.writeSync(flag, input, inOff, inLen, this.out, 0, OUT);
      if (this.error !== null) {
        this.close();
        throw new DecodeError(this.error);
      }
      const availOut = this.writeState[0]!;
      const availIn = this.writeState[1]!;
      const have = OUT - availOut;
      inOff += inLen - availIn;
      inLen = availIn;
      if (have > 0) sink(this.out.subarray(0, have));
      // Output buffer full: more output may be pending. Otherwise all input
      // is consumed (or the stream ended).
      if (availOut !== 0) {
        if (inLen > 0) {
          // The stream ended with input left over.
          this.done = true;
          throw new DecodeError("data after end of compressed stream");
        }
        return;
      }
    }
  }

  write(chunk: Uint8Array, sink: Sink): void {
    if (chunk.length > 0) this.run(this.flushFlag, chunk, sink);
  }

  finish(sink: Sink): void {
    try {
      this.run(this.finishFlag, new Uint8Array(0), sink);
      this.done = true;
    } finally {
      this.close();
    }
  }

  close(): void {
    try {
      this.engine.close();
    } catch {
      // already closed
    }
  }
}

// `Content-Encoding: deflate` is meant to be zlib-wrapped (RFC 9110), but
// some clients send raw deflate. Decide from the first two bytes: a zlib
// header has CM=8 and a 16-bit check value divisible by 31.
class DeflateDecoder implements StreamDecoder {
  private inner: ZlibDecoder | null = null;
  private head: Uint8Array = new Uint8Array(0);

  write(chunk: Uint8Array, sink: Sink): void {
    if (this.inner) return this.inner.write(chunk, sink);
    const joined = new Uint8Array(this.head.length + chunk.length);
    joined.set(this.head);
    joined.set(chunk, this.head.length);
    if (joined.length < 2) {
      this.head = joined;
      return;
    }
    const isZlib = (joined[0]! & 0x0f) === 8 && ((joined[0]! << 8) | joined[1]!) % 31 === 0;
    this.inner = new ZlibDecoder(isZlib ? "zlib" : "raw");
    this.head = new Uint8Array(0);
    this.inner.write(joined, sink);
  }

  finish(sink: Sink): void {
    if (!this.inner) {
      if (this.head.length === 0) return; // empty body
      this.inner = new ZlibDecoder("raw");
      this.inner.write(this.head, sink);
    }
    this.inner.finish(sink);
  }

  close(): void {
    this.inner?.close();
  }
}

class Chain implements StreamDecoder {
  // decoders[0] undoes the last-applied coding.
  constructor(private readonly decoders: StreamDecoder[]) {}

  private through(i: number, sink: Sink): Sink {
    if (i >= this.decoders.length) return sink;
    const next = this.decoders[i]!;
    const after = this.through(i + 1, sink);
    return (piece) => next.write(piece, after);
  }

  write(chunk: Uint8Array, sink: Sink): void {
    this.through(0, sink)(chunk);
  }

  finish(sink: Sink): void {
    for (let i = 0; i < this.decoders.length; i++) {
      this.decoders[i]!.finish(this.through(i + 1, sink));
    }
  }

  close(): void {
    for (const d of this.decoders) d.close();
  }
}

export type DecoderResult = { ok: true; decoder: StreamDecoder | null } | { ok: false; coding: string };

// Parses a Content-Encoding header value ("gzip", "deflate, br", ...).
// Codings are listed in the order they were applied, so they are undone in
// reverse. null / "" / "identity" mean no decoding. An unknown coding
// returns ok:false: the caller must not pretend it scanned the body.
export function decoderFor(contentEncoding: string | null): DecoderResult {
  if (contentEncoding === null) return { ok: true, decoder: null };
  const codings = contentEncoding
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  if (codings.length === 0) return { ok: true, decoder: null };
  // More than a few layers is not a real client; refuse rather than loop.
  if (codings.length > 4) return { ok: false, coding: "too many content codings" };
  const decoders: StreamDecoder[] = [];
  for (const c of codings.reverse()) {
    if (c === "gzip" || c === "x-gzip") decoders.push(new ZlibDecoder("gzip"));
    else if (c === "deflate") decoders.push(new DeflateDecoder());
    else if (c === "br") decoders.push(new ZlibDecoder("br"));
    else return { ok: false, coding: c };
  }
  return { ok: true, decoder: decoders.length === 1 ? decoders[0]! : new Chain(decoders) };
}
