import { describe, expect, test } from "bun:test";
import { zstdCompressSync } from "node:zlib";
import { sniff } from "../../../../src/gate/dlp/archive.ts";
import { compileDlp } from "../../../../src/gate/dlp/index.ts";

// Bodies compressed by their first bytes beyond gzip/zlib/zip: zstd is
// decoded (a skippable frame in front included), xz/bzip2/7z refused, and
// text that merely starts with the same letters is text.

const SECRET = "bottle-secret-Vq7ZxP2mK9wL4nR8";
const dlp = compileDlp({ secrets: [{ name: "MY_SECRET", value: SECRET }], placeholders: [] });
const notes = Buffer.from(Array.from({ length: 200 }, (_, i) => `line ${i} of the notes\n`).join(""));
const dirty = zstdCompressSync(Buffer.concat([notes, Buffer.from(`key=${SECRET}\n`), notes]));

async function scan(body: Uint8Array, cut = 3) {
  const s = dlp.encodedBodyScanner(null);
  return (await s.push(body.subarray(0, cut))) ?? (await s.push(body.subarray(cut))) ?? (await s.end());
}

describe("sniffed compressors", () => {
  test("zstd: decoded and scanned, whatever the first read's size", async () => {
    expect(dirty.includes(SECRET)).toBe(false);
    for (const cut of [0, 1, 3, 4, 9, 10, 11]) expect((await scan(dirty, cut))?.rule).toBe("secret:MY_SECRET");
    expect(await scan(zstdCompressSync(notes))).toBeNull();
  });

  test("zstd behind a skippable frame (which decoders skip): still decoded", async () => {
    const skip = Buffer.alloc(12);
    skip.writeUInt32LE(0x184d2a5e, 0);
    skip.writeUInt32LE(4, 4);
    skip.write("abcd", 8);
    expect((await scan(Buffer.concat([skip, dirty])))?.rule).toBe("secret:MY_SECRET");
  });

  test("a cut zstd stream is undecodable, not clean", async () => {
    expect((await scan(zstdCompressSync(notes).subarray(0, 40)))?.rule).toBe("undecodable-body");
  });

  test("xz, 7z and bzip2 magic: refused; text starting with BZh or 7z: text", async () => {
    expect(sniff(Buffer.from("fd377a585a000004e6d6b446", "hex"))).toBe("opaque");
    expect(sniff(Buffer.from("377abcaf271c0004", "hex"))).toBe("opaque");
    expect(sniff(Buffer.concat([Buffer.from("BZh9"), Buffer.from("314159265359", "hex")]))).toBe("opaque");
    expect((await scan(Buffer.concat([Buffer.from("BZh9"), Buffer.from("314159265359", "hex"), notes])))?.rule).toBe("unsupported-compressed-body");
    expect(await scan(Buffer.from("BZh9 is a bzip2 header, 7z is an archiver"))).toBeNull();
    expect(await scan(Buffer.from("7z archives and BZh1AY&SY"))).toBeNull();
  });
});
