import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { HeldBody } from "../../../../src/gate/held-body.ts";
import { ChunkedDecoder } from "../../../../src/gate/http/chunked.ts";

// What the DLP window holds, and what one socket read of a body of tiny
// chunks costs: one piece, not one object per chunk.

const join = (parts: Uint8Array[]) => Buffer.concat(parts).toString("latin1");

describe("HeldBody", () => {
  test("small pieces are copied into blocks: the capacity is the blocks, not one object per byte", () => {
    const h = new HeldBody(null);
    let added = 0;
    for (let i = 0; i < 100_000; i++) added += h.push(Buffer.from([65 + (i % 26)]));
    expect(h.bytes).toBe(100_000);
    // Two 64 KiB blocks.
    expect(h.capacity).toBe(2 * 64 * 1024);
    expect(added).toBe(h.capacity);
    const all = join(h.drain());
    expect(all.length).toBe(100_000);
    expect(all.slice(0, 27)).toBe("ABCDEFGHIJKLMNOPQRSTUVWXYZA");
    expect(h.bytes).toBe(0);
    expect(h.capacity).toBe(0);
  });

  test("a known small body gets a block its size; large pieces are kept as they are", () => {
    const small = new HeldBody(10);
    expect(small.push(Buffer.from("0123456789"))).toBe(10);
    expect(join(small.drain())).toBe("0123456789");
    const h = new HeldBody(null);
    const big = Buffer.alloc(100_000, 7);
    expect(h.push(Buffer.from("ab"))).toBe(64 * 1024);
    expect(h.push(big)).toBe(100_000);
    expect(h.push(Buffer.from("cd"))).toBe(64 * 1024);
    const out = h.drain();
    expect(out.length).toBe(3);
    expect(out[1]).toBe(big);
    expect(Buffer.from(out[0]!).toString()).toBe("ab");
    expect(Buffer.from(out[2]!).toString()).toBe("cd");
  });

  test("takeFront leaves at least the hold-back and gives back what it frees", () => {
    const h = new HeldBody(null);
    const piece = Buffer.alloc(20 * 1024, 1);
    for (let i = 0; i < 10; i++) h.push(piece);
    const { pieces, freed } = h.takeFront(64 * 1024);
    expect(pieces.length).toBe(6);
    expect(freed).toBe(6 * 20 * 1024);
    expect(h.bytes).toBe(4 * 20 * 1024);
    expect(h.bytes).toBeGreaterThanOrEqual(64 * 1024);
    expect(h.capacity).toBe(4 * 20 * 1024);
  });
});

describe("ChunkedDecoder: one piece per push", () => {
  const oneByteChunks = Buffer.from("1\r\nX\r\n".repeat(10_000) + "0\r\n\r\n", "latin1");

  test("ten thousand one-byte chunks in one read are one piece, with no object per chunk", () => {
    const count = () => heapStats().objectTypeCounts.Uint8Array ?? 0;
    Bun.gc(true);
    const before = count();
    const r = new ChunkedDecoder().push(oneByteChunks);
    const made = count() - before;
    expect(r.end).toBe(oneByteChunks.length);
    expect(r.data.length).toBe(1);
    expect(Buffer.from(r.data[0]!).toString()).toBe("X".repeat(10_000));
    expect(made).toBeLessThan(20);
  });

  test("one run is a view, several are joined; payload:false finds the end only", () => {
    const one = Buffer.from("5\r\nhello\r\n", "latin1");
    const r1 = new ChunkedDecoder().push(one);
    expect(r1.data[0]!.buffer).toBe(one.buffer);
    const r2 = new ChunkedDecoder().push(Buffer.from("3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n", "latin1"));
    expect(Buffer.from(r2.data[0]!).toString()).toBe("abcde");
    const r3 = new ChunkedDecoder(false).push(oneByteChunks);
    expect(r3).toEqual({ data: [], end: oneByteChunks.length });
  });
});
