import { describe, expect, test } from "bun:test";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync, zstdCompressSync } from "node:zlib";
import { compileDlp, type Dlp, type DlpFinding, type EncodedBodyScanner } from "../../../../src/gate/dlp/index.ts";
import { PROSE, randomBytes, randomToken } from "./corpus.ts";

const SECRET = randomToken(32, 100);
const dlp = compileDlp({ secrets: [{ name: "API_SECRET", value: SECRET }], placeholders: [] });
const te = new TextEncoder();
const dirty = te.encode(`${PROSE.repeat(40)}\n{"leak":"${SECRET}"}\n${PROSE.repeat(40)}`);
const clean = te.encode(PROSE.repeat(80));

// A request body as the gate scans it: decoded by its Content-Encoding.
async function feed(s: EncodedBodyScanner, data: Uint8Array, chunk: number): Promise<DlpFinding | null> {
  for (let i = 0; i < data.length; i += chunk) {
    const f = await s.push(data.subarray(i, i + chunk));
    if (f) return f;
  }
  return s.end();
}
const scan = (d: Dlp, data: Uint8Array, enc: string | null, chunk = 4096) => feed(d.encodedBodyScanner(enc), data, chunk);

const codings: [string, (b: Uint8Array) => Uint8Array][] = [
  ["gzip", (b) => gzipSync(b)],
  ["x-gzip", (b) => gzipSync(b)],
  ["GZIP", (b) => gzipSync(b)],
  ["deflate", (b) => deflateSync(b)],
  ["br", (b) => brotliCompressSync(b)],
  ["zstd", (b) => zstdCompressSync(b)],
  ["gzip, zstd", (b) => zstdCompressSync(gzipSync(b))],
];

describe("compressed bodies", () => {
  for (const [name, compress] of codings) {
    const z = compress(dirty);
    const zc = compress(clean);
    test(`${name}: secret found`, async () => {
      expect(await scan(dlp, z, name)).toEqual({ rule: "secret:API_SECRET", where: "body" });
    });
    test(`${name}: clean body passes`, async () => {
      expect(await scan(dlp, zc, name)).toBeNull();
    });
    test(`${name}: compressed stream split at every offset`, async () => {
      // Small body so every cut is cheap: the secret right in the middle.
      const small = compress(te.encode(`head ${SECRET} tail`));
      for (let cut = 0; cut <= small.length; cut++) {
        const s = dlp.encodedBodyScanner(name);
        const f = (await s.push(small.subarray(0, cut))) ?? (await s.push(small.subarray(cut))) ?? (await s.end());
        expect({ cut, f }).toEqual({ cut, f: { rule: "secret:API_SECRET", where: "body" } });
      }
    });
    test(`${name}: fed one compressed byte at a time`, async () => {
      expect(await scan(dlp, z, name, 1)).toEqual({ rule: "secret:API_SECRET", where: "body" });
    });
  }
  test("raw deflate sent as Content-Encoding: deflate", async () => {
    expect(await scan(dlp, deflateRawSync(dirty), "deflate")).toEqual({ rule: "secret:API_SECRET", where: "body" });
    expect(await scan(dlp, deflateRawSync(clean), "deflate")).toBeNull();
  });
  test("stacked codings are undone in reverse order", async () => {
    const z = brotliCompressSync(gzipSync(dirty));
    expect(await scan(dlp, z, "gzip, br")).toEqual({ rule: "secret:API_SECRET", where: "body" });
    expect(await scan(dlp, brotliCompressSync(gzipSync(clean)), "gzip, br")).toBeNull();
  });
  test("identity and empty encodings scan raw", async () => {
    for (const enc of [null, "", "identity", " Identity "]) expect(await scan(dlp, dirty, enc)).toEqual({ rule: "secret:API_SECRET", where: "body" });
  });
  test("the compressed bytes themselves do not hide the plain secret from a mislabelled body", async () => {
    // Declared gzip but sent plain: not a valid gzip stream -> refused.
    expect(await scan(dlp, dirty, "gzip")).toEqual({ rule: "undecodable-body", where: "body" });
  });
  test("a large compressed body decompresses in bounded pieces", async () => {
    // 24 MiB of zeros compress to ~24 KiB; the scanner must stream it.
    const zeros = new Uint8Array(24 * 1024 * 1024);
    zeros.set(te.encode(SECRET), zeros.length - 100);
    expect(await scan(dlp, gzipSync(zeros), "gzip", 65536)).toEqual({ rule: "secret:API_SECRET", where: "body" });
  });
});

describe("bodies the scanner cannot read are findings", () => {
  test("unknown content coding", async () => {
    for (const enc of ["compress", "xz", "gzip, bzip2", "snappy"]) {
      expect(await scan(dlp, clean, enc)).toEqual({ rule: "unsupported-content-encoding", where: "body" });
    }
  });
  test("unknown coding with an empty body is fine", async () => {
    expect(await dlp.encodedBodyScanner("compress").end()).toBeNull();
  });
  test("too many codings", async () => {
    expect(await scan(dlp, clean, "gzip, gzip, gzip, gzip, gzip")).toEqual({ rule: "unsupported-content-encoding", where: "body" });
  });
  test("corrupt gzip", async () => {
    const z = gzipSync(clean);
    const bad = Uint8Array.from(z);
    for (let i = 20; i < 60; i++) bad[i] = bad[i]! ^ 0xa5;
    expect(await scan(dlp, bad, "gzip")).toEqual({ rule: "undecodable-body", where: "body" });
  });
  test("truncated gzip", async () => {
    const z = gzipSync(clean);
    expect(await scan(dlp, z.subarray(0, z.length - 30), "gzip")).toEqual({ rule: "undecodable-body", where: "body" });
  });
  test("trailing garbage after the compressed stream", async () => {
    const z = deflateSync(clean);
    const joined = new Uint8Array(z.length + 50);
    joined.set(z);
    joined.set(te.encode("not a compressed byte among these"), z.length);
    expect(await scan(dlp, joined, "deflate")).toEqual({ rule: "undecodable-body", where: "body" });
  });
  test("random bytes labelled br", async () => {
    expect(await scan(dlp, randomBytes(5000, 5), "br")).toEqual({ rule: "undecodable-body", where: "body" });
  });
  test("decompression bomb beyond the decoded-size limit", async () => {
    const small = compileDlp({ secrets: [], placeholders: [], limits: { maxDecodedBytes: 1024 * 1024 } });
    const bomb = gzipSync(new Uint8Array(8 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(20_000);
    expect(await scan(small, bomb, "gzip")).toEqual({ rule: "decoded-size-limit", where: "body" });
    expect(await scan(small, gzipSync(new Uint8Array(1000 * 1024)), "gzip")).toBeNull();
  });
});

describe("streaming behaviour", () => {
  test("empty body", async () => {
    expect(dlp.bodyScanner().end()).toBeNull();
    expect(await dlp.encodedBodyScanner(null).end()).toBeNull();
    expect(await dlp.encodedBodyScanner("gzip").end()).toBeNull();
  });
  test("empty chunks are harmless", () => {
    const s = dlp.bodyScanner();
    expect(s.push(new Uint8Array(0))).toBeNull();
    expect(s.push(te.encode(SECRET))).toEqual({ rule: "secret:API_SECRET", where: "body" });
  });
  test("many scanners are independent", () => {
    const a = dlp.bodyScanner();
    const b = dlp.bodyScanner();
    expect(a.push(te.encode(SECRET.slice(0, 16)))).toBeNull();
    expect(b.push(te.encode(SECRET.slice(16)))).toBeNull();
    expect(b.end()).toBeNull();
    expect(a.push(te.encode(SECRET.slice(16)))).toEqual({ rule: "secret:API_SECRET", where: "body" });
  });
  test("memory stays bounded for a large body (no buffering of the whole body)", () => {
    // 64 MiB pushed in 1 MiB chunks; heap growth must stay far below that.
    const chunk = te.encode(PROSE.repeat(Math.ceil((1024 * 1024) / PROSE.length))).subarray(0, 1024 * 1024);
    Bun.gc(true);
    const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const s = dlp.bodyScanner();
    for (let i = 0; i < 64; i++) expect(s.push(chunk)).toBeNull();
    expect(s.end()).toBeNull();
    const after = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    expect(after - before).toBeLessThan(16 * 1024 * 1024);
  });
});
