import type { DlpFinding } from "./index.ts";

// A multipart body's parts, each given to its own sniffer (archive.ts by way
// of encoded-body.ts). `curl -F file=@notes.gz`, a browser's file input, an
// SDK's upload helper: the file goes out as one part of
// multipart/form-data (or mixed, related), so its gzip/zlib/zip magic sits
// after the part's headers, never at the body's first byte where the
// whole-body sniff looks. The receiver splits the body by the boundary its
// Content-Type names and gets the compressed file whole.
//
// Split leniently, fail closed: a delimiter is `--boundary` at the start of
// the body or after any LF (RFC 2046 says CRLF; some parsers take a bare
// LF). A parser stricter than us sees fewer parts, so one of our parts can
// be a cut piece of one of its: a cut gzip or zlib stream does not decode
// and a zip entry whose data is cut is unreadable, and both are findings
// (never a pass). The part's bytes themselves go through the plain scan
// with the rest of the body as they always did.

export interface PartScanner {
  push(piece: Uint8Array): Promise<DlpFinding | null>;
  end(): Promise<DlpFinding | null>;
  close(): void;
}

// Part headers longer than this: not a part we can read; the bytes are
// still scanned raw with the body.
const MAX_PART_HEADERS = 16 * 1024;

// The boundaries named by a request's Content-Type values (every value: a
// receiver may read another one than the first).
export function multipartBoundaries(contentTypes: readonly string[]): string[] {
  const out: string[] = [];
  for (const ct of contentTypes) {
    if (!/^\s*multipart\//i.test(ct)) continue;
    const re = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/gi;
    for (let m = re.exec(ct); m; m = re.exec(ct)) {
      const b = m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!;
      if (b.length > 0 && b.length <= 200 && !out.includes(b)) out.push(b);
    }
  }
  return out;
}

export class MultipartParts {
  private readonly delims: Buffer[];
  private readonly hold: number;
  private buf: Buffer = Buffer.alloc(0);
  // Body offset of buf[0] (a delimiter at offset 0 needs no LF before it).
  private at = 0;
  private state: "outside" | "headers" | "part" = "outside";
  private part: PartScanner | null = null;
  private finding: DlpFinding | null = null;

  constructor(
    boundaries: readonly string[],
    private readonly newPart: () => PartScanner,
  ) {
    this.delims = boundaries.map((b) => Buffer.from("--" + b, "latin1"));
    this.hold = Math.max(...this.delims.map((d) => d.length)) + 1;
  }

  async push(piece: Uint8Array): Promise<DlpFinding | null> {
    if (this.finding) return this.finding;
    this.buf = this.buf.length ? Buffer.concat([this.buf, piece]) : Buffer.from(piece);
    await this.run(false);
    return this.finding;
  }

  async end(): Promise<DlpFinding | null> {
    if (!this.finding) await this.run(true);
    if (!this.finding && this.part) this.finding = await this.part.end();
    this.part = null;
    return this.finding;
  }

  close(): void {
    this.part?.close();
    this.part = null;
    this.buf = Buffer.alloc(0);
  }

  private async run(last: boolean): Promise<void> {
    for (;;) {
      if (this.state === "headers") {
        // Right after a delimiter: the rest of its line, the part's
        // headers, an empty line. Held until that line comes (bounded).
        const e = this.headersEnd();
        if (e < 0) {
          if (this.buf.length <= MAX_PART_HEADERS) return;
          this.state = "outside";
          continue;
        }
        this.take(e);
        this.state = "part";
        this.part = this.newPart();
        continue;
      }
      const d = this.nextDelimiter();
      if (d === null) {
        // Keep what could be the start of a delimiter for the next push.
        const keep = last ? 0 : Math.min(this.buf.length, this.hold);
        const n = this.buf.length - keep;
        if (this.state === "part" && n > 0) await this.feed(this.buf.subarray(0, n));
        this.take(n);
        return;
      }
      if (this.state === "part") {
        // The CRLF (or LF) before the delimiter belongs to it, not the part.
        let end = d.at;
        if (end > 0 && this.buf[end - 1] === 0x0a) end--;
        if (end > 0 && this.buf[end - 1] === 0x0d) end--;
        if (end > 0) await this.feed(this.buf.subarray(0, end));
        const p = this.part;
        this.part = null;
        if (!this.finding && p) this.finding = await p.end();
        if (this.finding) return;
      }
      this.take(d.at + d.len);
      this.state = "headers";
    }
  }

  private async feed(bytes: Uint8Array): Promise<void> {
    if (this.finding || !this.part) return;
    this.finding = await this.part.push(bytes);
    if (this.finding) this.close();
  }

  private take(n: number): void {
    this.buf = this.buf.subarray(n);
    this.at += n;
  }

  // The earliest delimiter in buf: at body offset 0, or right after a LF.
  private nextDelimiter(): { at: number; len: number } | null {
    let best: { at: number; len: number } | null = null;
    for (const delim of this.delims) {
      let from = 0;
      for (;;) {
        const i = this.buf.indexOf(delim, from);
        if (i < 0) break;
        if ((i === 0 && this.at === 0) || (i > 0 && this.buf[i - 1] === 0x0a)) {
          if (!best || i < best.at) best = { at: i, len: delim.length };
          break;
        }
        from = i + 1;
      }
    }
    return best;
  }

  // Offset just past the empty line that ends a part's headers (the first
  // LF in buf ends the delimiter's line), or -1 while it has not come.
  private headersEnd(): number {
    const b = this.buf;
    for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) {
      if (i + 1 >= b.length) return -1;
      if (b[i + 1] === 0x0a) return i + 2;
      if (b[i + 1] === 0x0d) {
        if (i + 2 >= b.length) return -1;
        if (b[i + 2] === 0x0a) return i + 3;
      }
    }
    return -1;
  }
}
