import { looksLikeText, scanZip, sniff, SNIFF_BYTES, type Sniffed } from "./archive.ts";
import { DecodeError, decoderFor, magicDecoder, type StreamDecoder } from "./decode.ts";
import type { BodyScanner, DlpFinding, EncodedBodyScanner } from "./index.ts";
import { multipartBoundaries, MultipartParts } from "./multipart.ts";

// A request body as it arrives, decoded by its Content-Encoding
// (decode.ts) and scanned by the plain body scanner. What cannot be read is
// a finding, never a pass:
//  - an unknown coding (compress, xz, ...): "unsupported-content-encoding"
//    as soon as the body has a byte (clients do not send such request
//    bodies in practice);
//  - a corrupt or truncated stream, or bytes after its end:
//    "undecodable-body";
//  - more decoded bytes than the limit: "decoded-size-limit" (counted by the
//    plain scanner).
// Three more views, for bytes a decoder would otherwise skip or a missing
// header would hide:
//  - with a coding, the encoded bytes are scanned as they are too: a gzip
//    header's FNAME, FCOMMENT and FEXTRA, a brotli metadata block, a stored
//    deflate block are the sender's bytes, verbatim, that no decoder
//    outputs;
//  - the decoded body is sniffed (archive.ts): gzip, zlib or zip by its
//    first bytes is inflated and scanned as well, with or without a
//    Content-Encoding saying so; so is every part of a multipart body
//    (multipart.ts: a file uploaded as a form field).

// Thrown by a sink to stop decoding at the first finding.
class Stop extends Error {
  constructor(readonly finding: DlpFinding) {
    super(finding.rule);
  }
}

const UNDECODABLE: DlpFinding = { rule: "undecodable-body", where: "body" };

// How a decoder step ended: null (fine), the finding a sink stopped it
// with, or "undecodable" (the stream is broken).
async function settle(p: Promise<void>): Promise<DlpFinding | "undecodable" | null> {
  try {
    await p;
    return null;
  } catch (e) {
    if (e instanceof Stop) return e.finding;
    if (e instanceof DecodeError) return "undecodable";
    throw e;
  }
}

export interface EncodedLimits {
  // A zip body is held whole to be read; past this it is refused.
  maxArchiveBytes: number;
  maxDecodedBytes: number;
}

export class EncodedBody implements EncodedBodyScanner {
  private finding: DlpFinding | null = null;
  private readonly decoder: StreamDecoder | null;
  private readonly unsupported: boolean;
  private readonly plain: BodyScanner;
  private readonly raw: BodyScanner | null;
  private readonly inner: Sniffer;
  private readonly parts: MultipartParts | null;
  private sawInput = false;

  constructor(
    newScanner: () => BodyScanner,
    contentEncoding: string | null,
    limits: EncodedLimits,
    // The request's Content-Type values (a multipart boundary).
    contentTypes: readonly string[] = [],
  ) {
    this.plain = newScanner();
    this.inner = new Sniffer(newScanner, limits);
    const boundaries = multipartBoundaries(contentTypes);
    this.parts = boundaries.length > 0 ? new MultipartParts(boundaries, () => new Sniffer(newScanner, limits)) : null;
    const d = decoderFor(contentEncoding, async (piece) => {
      const f = await this.decoded(piece);
      if (f) throw new Stop(f);
    });
    this.decoder = d.ok ? d.decoder : null;
    this.unsupported = !d.ok;
    this.raw = this.decoder ? newScanner() : null;
  }

  async push(chunk: Uint8Array): Promise<DlpFinding | null> {
    if (this.finding || chunk.length === 0) return this.finding;
    if (this.unsupported) return (this.finding = { rule: "unsupported-content-encoding", where: "body" });
    this.sawInput = true;
    if (!this.decoder) return (this.finding = await this.decoded(chunk));
    if ((this.finding = this.raw!.push(chunk))) return this.stop();
    await this.guard(this.decoder.write(chunk));
    return this.finding;
  }

  async end(): Promise<DlpFinding | null> {
    if (this.finding) return this.finding;
    // An empty body is empty whatever its declared coding.
    if (this.decoder && this.sawInput) await this.guard(this.decoder.finish());
    else this.decoder?.close();
    this.finding ??= this.raw?.end() ?? null;
    this.finding ??= this.plain.end();
    this.finding ??= await this.inner.end();
    this.finding ??= (await this.parts?.end()) ?? null;
    return this.finding;
  }

  close(): void {
    this.decoder?.close();
    this.inner.close();
    this.parts?.close();
  }

  // The body as the receiver reads it: scanned, and sniffed whole and by
  // part.
  private async decoded(piece: Uint8Array): Promise<DlpFinding | null> {
    return this.plain.push(piece) ?? (await this.inner.push(piece)) ?? (await this.parts?.push(piece)) ?? null;
  }

  private stop(): DlpFinding | null {
    this.close();
    return this.finding;
  }

  private async guard(p: Promise<void>): Promise<void> {
    const r = await settle(p);
    if (r === null) return;
    this.finding = r === "undecodable" ? UNDECODABLE : r;
    this.close();
  }
}

// The decoded body's own compression, found by its first bytes.
class Sniffer {
  private kind: Sniffed | "undecided" = "undecided";
  private head: Uint8Array = new Uint8Array(0);
  private decoder: StreamDecoder | null = null;
  private scanner: BodyScanner | null = null;
  private zip: Buffer[] = [];
  private zipBytes = 0;
  private finding: DlpFinding | null = null;

  constructor(
    private readonly newScanner: () => BodyScanner,
    private readonly limits: EncodedLimits,
  ) {}

  async push(piece: Uint8Array): Promise<DlpFinding | null> {
    if (this.finding || this.kind === null) return this.finding;
    if (this.kind === "undecided") {
      const joined = new Uint8Array(this.head.length + piece.length);
      joined.set(this.head);
      joined.set(piece, this.head.length);
      if (joined.length < SNIFF_BYTES) {
        this.head = joined;
        return null;
      }
      this.head = joined.subarray(0, 64);
      this.start(sniff(joined));
      piece = joined;
    }
    return this.feed(piece);
  }

  async end(): Promise<DlpFinding | null> {
    if (this.finding) return this.finding;
    if (this.kind === "undecided") {
      if (this.head.length === 0) return null;
      this.start(sniff(this.head));
      await this.feed(this.head);
      if (this.finding) return this.finding;
    }
    if (this.kind === "zip") {
      const buf = Buffer.concat(this.zip);
      this.zip = [];
      return (this.finding = scanZip(buf, this.newScanner, { maxEntryBytes: 64 * 1024 * 1024, maxTotalBytes: this.limits.maxDecodedBytes }));
    }
    if (this.decoder) {
      await this.guard(this.decoder.finish());
      this.finding ??= this.scanner!.end();
    }
    return this.finding;
  }

  close(): void {
    this.decoder?.close();
    this.zip = [];
  }

  private start(kind: Sniffed): void {
    this.kind = kind;
    if (kind === "opaque") this.finding = { rule: "unsupported-compressed-body", where: "body" };
    if (kind !== "gzip" && kind !== "zlib" && kind !== "zstd") return;
    const scanner = this.newScanner();
    this.scanner = scanner;
    this.decoder = magicDecoder(kind, (p) => {
      const f = scanner.push(p);
      if (f) throw new Stop(f);
    });
  }

  private async feed(piece: Uint8Array): Promise<DlpFinding | null> {
    if (this.kind === "zip") {
      this.zipBytes += piece.length;
      if (this.zipBytes > this.limits.maxArchiveBytes) return (this.finding = { rule: "archive-size-limit", where: "body" });
      this.zip.push(Buffer.from(piece));
      return null;
    }
    if (this.decoder) await this.guard(this.decoder.write(piece));
    return this.finding;
  }

  private async guard(p: Promise<void>): Promise<void> {
    const r = await settle(p);
    if (r === null) return;
    // A body that only looked compressed: text that happens to start like
    // a zlib header is scanned as the text it is (it was).
    if (r !== "undecodable") this.finding = r;
    else if (this.kind === "zlib" && looksLikeText(this.head)) this.kind = null;
    else this.finding = UNDECODABLE;
    this.decoder?.close();
    this.decoder = null;
  }
}
