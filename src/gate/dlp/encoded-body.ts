import { DecodeError, decoderFor, type StreamDecoder } from "./decode.ts";
import type { BodyScanner, DlpFinding, EncodedBodyScanner } from "./index.ts";

// A request body as it arrives, decoded by its Content-Encoding
// (decode.ts) and scanned by the plain body scanner. What cannot be read is
// a finding, never a pass:
//  - an unknown coding (compress, zstd, ...): "unsupported-content-encoding"
//    as soon as the body has a byte (clients do not send such request
//    bodies in practice);
//  - a corrupt or truncated stream, or bytes after its end:
//    "undecodable-body";
//  - more decoded bytes than the limit: "decoded-size-limit" (counted by the
//    plain scanner).

// Thrown by the sink to stop decoding at the first finding.
class Stop extends Error {
  constructor(readonly finding: DlpFinding) {
    super(finding.rule);
  }
}

export class EncodedBody implements EncodedBodyScanner {
  private finding: DlpFinding | null = null;
  private readonly decoder: StreamDecoder | null;
  private readonly unsupported: boolean;
  private sawInput = false;

  constructor(
    private readonly plain: BodyScanner,
    contentEncoding: string | null,
  ) {
    const d = decoderFor(contentEncoding, (piece) => {
      const f = this.plain.push(piece);
      if (f) throw new Stop(f);
    });
    this.decoder = d.ok ? d.decoder : null;
    this.unsupported = !d.ok;
  }

  async push(chunk: Uint8Array): Promise<DlpFinding | null> {
    if (this.finding || chunk.length === 0) return this.finding;
    if (this.unsupported) return (this.finding = { rule: "unsupported-content-encoding", where: "body" });
    this.sawInput = true;
    if (!this.decoder) return (this.finding = this.plain.push(chunk));
    await this.guard(this.decoder.write(chunk));
    return this.finding;
  }

  async end(): Promise<DlpFinding | null> {
    if (this.finding) return this.finding;
    // An empty body is empty whatever its declared coding.
    if (this.decoder && this.sawInput) await this.guard(this.decoder.finish());
    else this.decoder?.close();
    return (this.finding ??= this.plain.end());
  }

  close(): void {
    this.decoder?.close();
  }

  private async guard(p: Promise<void>): Promise<void> {
    try {
      await p;
    } catch (e) {
      if (e instanceof Stop) this.finding = e.finding;
      else if (e instanceof DecodeError) this.finding = { rule: "undecodable-body", where: "body" };
      else throw e;
      this.decoder?.close();
    }
  }
}
