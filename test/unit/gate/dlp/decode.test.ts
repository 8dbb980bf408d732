import { describe, expect, test } from "bun:test";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { decoderFor, DecodeError } from "../../../../src/gate/dlp/decode.ts";
import { compileDlp } from "../../../../src/gate/dlp/index.ts";
import { PROSE, randomToken } from "./corpus.ts";

// The decoders on the runtime's DecompressionStream: what the DLP relies
// on, pinned so that a runtime upgrade that changes it fails here.
const te = new TextEncoder();
const SECRET = randomToken(32, 7);
const dlp = compileDlp({ secrets: [{ name: "API_SECRET", value: SECRET }], placeholders: [] });
const FOUND = { rule: "secret:API_SECRET", where: "body" };
const UNDECODABLE = { rule: "undecodable-body", where: "body" };
const cat = (...parts: Uint8Array[]) => Buffer.concat(parts);

async function decodeAll(enc: string, data: Uint8Array, chunk = 4096): Promise<Buffer> {
  const out: Uint8Array[] = [];
  const d = decoderFor(enc, (p) => void out.push(Buffer.from(p)));
  if (!d.ok || !d.decoder) throw new Error("no decoder");
  for (let i = 0; i < data.length; i += chunk) await d.decoder.write(data.subarray(i, i + chunk));
  await d.decoder.finish();
  return Buffer.concat(out);
}

async function scan(enc: string, data: Uint8Array, chunk = 4096) {
  const s = dlp.encodedBodyScanner(enc);
  for (let i = 0; i < data.length; i += chunk) {
    const f = await s.push(data.subarray(i, i + chunk));
    if (f) return f;
  }
  return s.end();
}

const codings: [string, (b: Uint8Array) => Uint8Array][] = [
  ["gzip", gzipSync],
  ["deflate", deflateSync],
  ["deflate", deflateRawSync],
  ["br", brotliCompressSync],
];

describe("round trips", () => {
  test("every coding, and stacks including raw deflate inside gzip", async () => {
    const text = te.encode(PROSE.repeat(50));
    for (const [enc, z] of codings) expect((await decodeAll(enc, z(text))).equals(Buffer.from(text))).toBe(true);
    expect((await decodeAll("deflate, gzip", gzipSync(deflateRawSync(text)))).equals(Buffer.from(text))).toBe(true);
    expect((await decodeAll("gzip, deflate, br", brotliCompressSync(deflateSync(gzipSync(text))), 1000)).equals(Buffer.from(text))).toBe(true);
  });
  test("concatenated gzip members are all decoded, and the second one is scanned", async () => {
    const two = cat(gzipSync(te.encode("first member, clean\n")), gzipSync(te.encode(`second ${SECRET}\n`)));
    expect((await decodeAll("gzip", two)).toString()).toBe(`first member, clean\nsecond ${SECRET}\n`);
    expect(await scan("gzip", two)).toEqual(FOUND);
  });
  test("an empty body needs no decoder; one byte of deflate is not a stream", async () => {
    expect(await dlp.encodedBodyScanner("deflate").end()).toBeNull();
    expect(await scan("deflate", Uint8Array.of(0x78))).toEqual(UNDECODABLE);
  });
});

describe("what cannot be read is refused", () => {
  test("bytes after the end of the stream, in every coding (the upstream would never decode them)", async () => {
    // (Junk that holds the secret itself is found as the secret first: the
    // encoded bytes are scanned as they are too.)
    const junk = te.encode(" trailing junk, not compressed");
    for (const [enc, z] of codings) {
      expect(await scan(enc, cat(z(te.encode("a clean body")), te.encode(` ${SECRET} `)))).toEqual(FOUND);
      const body = cat(z(te.encode("a clean compressed body")), junk);
      expect({ enc, f: await scan(enc, body) }).toEqual({ enc, f: UNDECODABLE });
      // Also when the junk arrives in a later write than the stream's end.
      const s = dlp.encodedBodyScanner(enc);
      expect(await s.push(z(te.encode("a clean compressed body")))).toBeNull();
      expect({ enc, f: (await s.push(junk)) ?? (await s.end()) }).toEqual({ enc, f: UNDECODABLE });
    }
  });
  test("truncated and corrupt streams, in every coding and as the inner layer of a stack", async () => {
    const text = te.encode(PROSE.repeat(20));
    for (const [enc, z] of codings) {
      const full = z(text);
      expect({ enc, f: await scan(enc, full.subarray(0, full.length - 5)) }).toEqual({ enc, f: UNDECODABLE });
      const bad = Buffer.from(full);
      for (let i = 10; i < 40; i++) bad[i] = bad[i]! ^ 0x5a;
      expect({ enc, f: await scan(enc, bad) }).toEqual({ enc, f: UNDECODABLE });
    }
    const inner = deflateSync(text);
    expect(await scan("deflate, gzip", gzipSync(inner.subarray(0, inner.length - 5)))).toEqual(UNDECODABLE);
  });
  test("a decoder error is a DecodeError, never a crash", async () => {
    const d = decoderFor("gzip", () => {});
    if (!d.ok || !d.decoder) throw new Error("no decoder");
    await expect(d.decoder.write(te.encode("not gzip at all, not at all"))).rejects.toBeInstanceOf(DecodeError);
  });
});

describe("timely and bounded", () => {
  test("a write resolves only after its output was scanned: the push that completes a secret reports it", async () => {
    for (const [enc, z] of codings) {
      const s = dlp.encodedBodyScanner(enc);
      // A sync flush point inside the stream is what a streaming client
      // sends; the whole small body in one write is the simple case.
      expect({ enc, f: await s.push(z(te.encode(`head ${SECRET} tail`))) }).toEqual({ enc, f: FOUND });
    }
  });
  test("after a finding, decoding stops and every later call answers the finding", async () => {
    const s = dlp.encodedBodyScanner("gzip");
    const z = gzipSync(te.encode(`${SECRET}\n${PROSE.repeat(2000)}`));
    expect(await s.push(z.subarray(0, 2000))).toEqual(FOUND);
    expect(await s.push(z.subarray(2000))).toEqual(FOUND);
    expect(await s.end()).toEqual(FOUND);
  });
  test("a decompression bomb costs CPU, not memory", async () => {
    const bomb = gzipSync(new Uint8Array(512 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(600_000);
    Bun.gc(true);
    const m0 = process.memoryUsage();
    let peak = 0;
    let n = 0;
    const d = decoderFor("gzip", (p) => {
      n += p.length;
      if ((n & 0x3ffffff) === 0) {
        const m = process.memoryUsage();
        peak = Math.max(peak, m.heapUsed + m.arrayBuffers - m0.heapUsed - m0.arrayBuffers);
      }
    });
    if (!d.ok || !d.decoder) throw new Error("no decoder");
    for (let i = 0; i < bomb.length; i += 65536) await d.decoder.write(bomb.subarray(i, i + 65536));
    await d.decoder.finish();
    expect(n).toBe(512 * 1024 * 1024);
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  });
});
