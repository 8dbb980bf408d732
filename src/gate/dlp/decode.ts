// Streaming Content-Encoding decoders for the body scanner, on the runtime's
// DecompressionStream (the WHATWG Compression Streams API; Bun also takes
// "brotli"): native zlib and brotli behind a public, specified interface.
// What the scanner relies on, and test/unit/gate/dlp/decode.test.ts pins:
//  - output comes in pieces (at most 64 KiB) with back-pressure: a write
//    resolves once its output has been taken, so a decompression bomb costs
//    CPU, bounded by the caller's decoded-size limit, never memory;
//  - a corrupt or truncated stream is an error, and so is any byte after
//    the end of the compressed stream ("trailing junk": the upstream would
//    ignore it, or read it raw, unscanned);
//  - concatenated gzip members are all decoded.
//
// Earlier this drove private internals of node:zlib (`_handle.writeSync`,
// `_writeState`) to get synchronous output; a runtime upgrade could change
// those under a security path without a word. fflate (the pure-JS decoder)
// was measured too: 30-100 MB/s on Bun against the native decoder's
// 1-4 GB/s, and it cannot say where a deflate stream ends without its
// private state either.

export class DecodeError extends Error {}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

// Receives decoded pieces in order. May throw to stop decoding (a DLP
// finding): the error comes out of the write() or finish() in progress.
export type Sink = (piece: Uint8Array) => void | Promise<void>;

export interface StreamDecoder {
  write(chunk: Uint8Array): Promise<void>;
  // End of input: resolves once every decoded byte went to the sink.
  finish(): Promise<void>;
  // Frees the decoder early (after a finding, say).
  close(): void;
}

type Out = (piece: Uint8Array) => void | Promise<void>;

// What we use of a DecompressionStream's writer.
interface Writer {
  write(chunk: Uint8Array<ArrayBuffer>): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
  readonly closed: Promise<unknown>;
}

// Input is handed to the native decoder in slices of at most this (a
// socket read's size). The stream applies back-pressure within one write as
// well, so this bounds the work per write, not correctness.
const SLICE = 64 * 1024;

// One layer: a DecompressionStream whose output a pump hands to `out` (the
// next layer, or the sink), awaiting each piece.
class Layer implements StreamDecoder {
  private writer: Writer | null = null;
  private pump: Promise<void> | null = null;
  private failure: unknown = null;
  // `deflate` only: the first bytes, until the header says zlib or raw.
  private head: Uint8Array | null;

  constructor(
    private readonly coding: "gzip" | "deflate" | "br" | "zstd",
    private readonly out: Out,
  ) {
    this.head = coding === "deflate" ? new Uint8Array(0) : null;
    if (coding !== "deflate") this.open(coding === "br" ? "brotli" : coding);
  }

  private open(format: "gzip" | "deflate" | "deflate-raw" | "brotli" | "zstd"): Writer {
    // Bun's DecompressionStream takes "zstd" (strict like the others: a
    // cut stream or trailing junk is an error); the DOM typings do not.
    const ds = new DecompressionStream(format as "gzip");
    const writer = ds.writable.getWriter();
    const reader = ds.readable.getReader();
    const fail = (e: unknown) => {
      this.failure ??= e;
      writer.abort(e).catch(() => {});
      reader.cancel(e).catch(() => {});
    };
    this.pump = (async () => {
      for (;;) {
        let r: Awaited<ReturnType<typeof reader.read>>;
        try {
          r = await reader.read();
        } catch (e) {
          return fail(new DecodeError(messageOf(e)));
        }
        if (r.done) return;
        try {
          await this.out(r.value);
        } catch (e) {
          return fail(e);
        }
      }
    })();
    writer.closed.catch(() => {});
    this.writer = writer;
    return writer;
  }

  private rethrow(e: unknown): never {
    throw this.failure ?? (e instanceof DecodeError ? e : new DecodeError(messageOf(e)));
  }

  private async send(w: Writer, chunk: Uint8Array): Promise<void> {
    for (let i = 0; i < chunk.length; i += SLICE) {
      try {
        // Request bodies are socket buffers, never shared memory.
        await w.write(chunk.subarray(i, i + SLICE) as Uint8Array<ArrayBuffer>);
      } catch (e) {
        this.rethrow(e);
      }
      if (this.failure) throw this.failure;
    }
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.writer) return this.send(this.writer, chunk);
    // `Content-Encoding: deflate` is meant to be zlib-wrapped (RFC 9110),
    // but some clients send raw deflate. Decide from the first two bytes: a
    // zlib header has CM=8 and a 16-bit check value divisible by 31.
    const joined = new Uint8Array(this.head!.length + chunk.length);
    joined.set(this.head!);
    joined.set(chunk, this.head!.length);
    if (joined.length < 2) {
      this.head = joined;
      return;
    }
    this.head = null;
    const isZlib = (joined[0]! & 0x0f) === 8 && ((joined[0]! << 8) | joined[1]!) % 31 === 0;
    return this.send(this.open(isZlib ? "deflate" : "deflate-raw"), joined);
  }

  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    let w = this.writer;
    if (!w) {
      const head = this.head!;
      if (head.length === 0) return; // empty body
      w = this.open("deflate-raw");
      await this.send(w, head);
    }
    try {
      await w.close();
    } catch (e) {
      this.rethrow(e);
    }
    await this.pump;
    if (this.failure) throw this.failure;
  }

  close(): void {
    const w = this.writer;
    this.writer = null;
    this.failure ??= new DecodeError("closed");
    w?.abort(this.failure).catch(() => {});
  }
}

// Stacked codings: each layer's output is the next layer's input.
class Chain implements StreamDecoder {
  // layers[0] undoes the last-applied coding.
  constructor(private readonly layers: StreamDecoder[]) {}

  write(chunk: Uint8Array): Promise<void> {
    return this.layers[0]!.write(chunk);
  }

  async finish(): Promise<void> {
    for (const l of this.layers) await l.finish();
  }

  close(): void {
    for (const l of this.layers) l.close();
  }
}

export type DecoderResult = { ok: true; decoder: StreamDecoder | null } | { ok: false; coding: string };

// Parses a Content-Encoding header value ("gzip", "deflate, br", ...).
// Codings are listed in the order they were applied, so they are undone in
// reverse. null / "" / "identity" mean no decoding. An unknown coding
// returns ok:false: the caller must not pretend it scanned the body.
export function decoderFor(contentEncoding: string | null, sink: Sink): DecoderResult {
  if (contentEncoding === null) return { ok: true, decoder: null };
  const codings = contentEncoding
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  if (codings.length === 0) return { ok: true, decoder: null };
  // More than a few layers is not a real client; refuse rather than loop.
  if (codings.length > 4) return { ok: false, coding: "too many content codings" };
  const kinds: ("gzip" | "deflate" | "br" | "zstd")[] = [];
  for (const c of codings.reverse()) {
    if (c === "gzip" || c === "x-gzip") kinds.push("gzip");
    else if (c === "deflate") kinds.push("deflate");
    else if (c === "br") kinds.push("br");
    else if (c === "zstd") kinds.push("zstd");
    else return { ok: false, coding: c };
  }
  // Built from the innermost layer out, so each knows where its output goes.
  const layers: StreamDecoder[] = [];
  let out: Out = sink;
  for (let i = kinds.length - 1; i >= 0; i--) {
    const layer = new Layer(kinds[i]!, out);
    layers.unshift(layer);
    out = (piece) => layer.write(piece);
  }
  return { ok: true, decoder: layers.length === 1 ? layers[0]! : new Chain(layers) };
}

// A decoder for a body compressed by its first bytes (archive.ts sniff),
// whatever its Content-Encoding says.
export function magicDecoder(kind: "gzip" | "zlib" | "zstd", sink: Sink): StreamDecoder {
  return new Layer(kind === "zlib" ? "deflate" : kind, sink);
}
