import { constants, inflateRawSync } from "node:zlib";
import type { BodyScanner, DlpFinding } from "./index.ts";

// Request bodies that are compressed by their first bytes, whatever their
// Content-Encoding says (most often: nothing). A client that gzips a file
// and POSTs it as application/octet-stream sends the file's bytes out all
// the same, so they are inflated and scanned like a declared coding:
//  - gzip (1f 8b 08), zlib (78 01/5e/9c/da) and zstd (28 b5 2f fd, or a
//    skippable frame first) are decoded as a stream (decode.ts;
//    encoded-body.ts runs them);
//  - xz, bzip2 and 7z, which the gate cannot decode, are refused
//    ("unsupported-compressed-body"): `xz f && curl --data-binary @f.xz`
//    would otherwise carry any file out unread;
//  - zip (PK 03 04) is held (up to `maxArchiveBytes`, the DLP window's
//    size, so the verdict still comes before anything is sent) and every
//    deflated entry is inflated and scanned at the end. Stored entries and
//    file names are raw bytes the plain scan has already seen.
// One level: what an inflated body holds is not sniffed again (a zip in a
// zip is the sender's own scheme, like any other re-encoding).

// "opaque": compressed by a common tool the gate has no decoder for (xz,
// bzip2, 7z): refused, as an unknown Content-Encoding is.
export type Sniffed = "gzip" | "zlib" | "zip" | "zstd" | "opaque" | null;

// The most bytes sniff() looks at; fewer: the body is shorter than that.
export const SNIFF_BYTES = 10;

const startsWith = (head: Uint8Array, magic: number[]): boolean => head.length >= magic.length && magic.every((b, i) => head[i] === b);

export function sniff(head: Uint8Array): Sniffed {
  if (startsWith(head, [0x1f, 0x8b, 0x08])) return "gzip";
  // CMF 0x78 (deflate, 32 KiB window: what every zlib writer emits) with a
  // valid check value and no preset dictionary.
  if (head.length >= 2 && head[0] === 0x78 && [0x01, 0x5e, 0x9c, 0xda].includes(head[1]!)) return "zlib";
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) return "zip";
  // A zstd frame, or a skippable frame (0x184D2A5?) before one.
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) return "zstd";
  if (head.length >= 4 && (head[0]! & 0xf0) === 0x50 && startsWith(head.subarray(1), [0x2a, 0x4d, 0x18])) return "zstd";
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return "opaque"; // xz
  if (startsWith(head, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return "opaque"; // 7z
  // bzip2: "BZh", the block size, then a block's or the end's magic.
  if (startsWith(head, [0x42, 0x5a, 0x68]) && head.length >= 10 && head[3]! >= 0x31 && head[3]! <= 0x39) {
    const m = Buffer.from(head.subarray(4, 10)).toString("hex");
    if (m === "314159265359" || m === "177245385090") return "opaque";
  }
  return null;
}

// "x^2 + y^2 ..." starts like a zlib stream too. A body whose first bytes
// are plain text and that does not decode is text, not a broken stream.
export function looksLikeText(head: Uint8Array): boolean {
  for (const b of head.subarray(0, 64)) if (b < 0x09 || (b > 0x0d && b < 0x20) || b > 0x7e) return false;
  return true;
}

const SIG = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const MAX_ENTRIES = 4096;

export interface ArchiveLimits {
  // Decoded bytes, per entry and over all entries of one archive.
  maxEntryBytes: number;
  maxTotalBytes: number;
}

// Every local file header in the archive, wherever it starts: walking from
// the first one would trust sizes the sender wrote (a data descriptor, a
// stored entry of unknown size), and a receiver that finds headers by
// their signature would read entries the walk skipped.
export function scanZip(buf: Buffer, newScanner: () => BodyScanner, limits: ArchiveLimits): DlpFinding | null {
  let total = 0;
  let entries = 0;
  for (let at = buf.indexOf(SIG); at >= 0; at = buf.indexOf(SIG, at + 4)) {
    if (++entries > MAX_ENTRIES) return { rule: "archive-entry-limit", where: "body" };
    if (at + 30 > buf.length) break;
    const flags = buf.readUInt16LE(at + 6);
    const method = buf.readUInt16LE(at + 8);
    const csize = buf.readUInt32LE(at + 18);
    const data = at + 30 + buf.readUInt16LE(at + 26) + buf.readUInt16LE(at + 28);
    if (method === 0) continue;
    // A header whose data would start past the end: the archive was cut
    // (a multipart reader that split it, multipart.ts) and its entry
    // cannot be read here, though a receiver holding the rest can.
    if (data > buf.length) return { rule: "undecodable-body", where: "body" };
    // What the gate cannot read does not leave: password-protected entries
    // and other compression methods (bzip2, LZMA, zstd, ...).
    if (flags & 1) return { rule: "encrypted-archive-entry", where: "body" };
    if (method !== 8) return { rule: "unsupported-archive-entry", where: "body" };
    // Sizes in the header when they are there; else (data descriptor,
    // zip64) the deflate stream says where it ends.
    const known = (flags & 8) === 0 && csize !== 0xffffffff && data + csize <= buf.length;
    let out: Buffer;
    try {
      out = inflateRawSync(known ? buf.subarray(data, data + csize) : buf.subarray(data), {
        maxOutputLength: Math.min(limits.maxEntryBytes, limits.maxTotalBytes - total + 1),
        finishFlush: constants.Z_SYNC_FLUSH,
      });
    } catch (e) {
      if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") return { rule: "decoded-size-limit", where: "body" };
      return { rule: "undecodable-body", where: "body" };
    }
    total += out.length;
    if (total > limits.maxTotalBytes) return { rule: "decoded-size-limit", where: "body" };
    const s = newScanner();
    const f = s.push(out) ?? s.end();
    if (f) return f;
  }
  return null;
}
