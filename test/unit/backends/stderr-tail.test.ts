import { describe, expect, test } from "bun:test";
import { forwardStderr } from "../../../src/backends/stderr-tail.ts";

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
}

describe("forwardStderr", () => {
  test("a multibyte character split across chunks is kept whole in the tail; every byte is forwarded", async () => {
    const bytes = new TextEncoder().encode("Error: kein Zugriff auf »bottle« ✓ 日本\n");
    // Cut inside »(2 bytes), ✓ (3 bytes) and 日 (3 bytes).
    const i1 = bytes.indexOf(0xc2) + 1;
    const i2 = bytes.indexOf(0xe2) + 2;
    const i3 = bytes.indexOf(0xe6) + 1;
    const chunks = [bytes.slice(0, i1), bytes.slice(i1, i2), bytes.slice(i2, i3), bytes.slice(i3)];
    const seen: number[] = [];
    const tail = await forwardStderr(streamOf(chunks), (c) => seen.push(...c));
    expect(tail).toBe("Error: kein Zugriff auf »bottle« ✓ 日本\n");
    expect(tail).not.toContain("\uFFFD");
    expect(Uint8Array.from(seen)).toEqual(bytes);
  });

  test("keeps only the last `keep` characters", async () => {
    const enc = new TextEncoder();
    const tail = await forwardStderr(streamOf([enc.encode("a".repeat(100)), enc.encode("the end")]), () => {}, 10);
    expect(tail).toBe("aaathe end");
  });
});
