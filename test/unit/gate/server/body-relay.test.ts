import { describe, expect, test } from "bun:test";
import { relayBody, type BodyEnd, type BodyStep } from "../../../../src/gate/http/body-relay.ts";
import { parseResponseHead, responseFraming, type Framing } from "../../../../src/gate/http/head.ts";

// The one body-framing loop, fed the way a socket would feed it: the bytes
// read with the head (`first`), then one piece per read, then end of stream.
async function run(framing: Framing, pieces: (string | Uint8Array)[], eof = true) {
  const bufs = pieces.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : p));
  const [first, ...more] = bufs.length ? bufs : [Buffer.alloc(0)];
  let reads = 0;
  const steps: BodyStep[] = [];
  const end: BodyEnd = await relayBody(
    framing,
    first!,
    async () => {
      reads++;
      if (more.length) return more.shift()!;
      if (eof) return null;
      throw new Error("read past the end of what the test supplied");
    },
    (s) => {
      // Copy: a step may be a view of a buffer the next read replaces.
      steps.push({ raw: Buffer.from(s.raw), payload: s.payload.map((p) => Buffer.from(p)), last: s.last });
    },
  );
  const raw = Buffer.concat(steps.map((s) => s.raw)).toString("latin1");
  const payload = Buffer.concat(steps.flatMap((s) => s.payload)).toString("latin1");
  return { end, steps, raw, payload, reads, unread: more.length };
}
const lastFlags = (steps: BodyStep[]) => steps.map((s) => s.last);

describe("Content-Length", () => {
  test("one read, or one byte per read: the body exactly, `last` on the final step", async () => {
    const a = await run({ kind: "length", length: 5 }, ["hello"]);
    expect(a.end).toEqual({ kind: "complete", wireBytes: 5, extra: 0 });
    expect(a.raw).toBe("hello");
    expect(a.payload).toBe("hello");
    expect(a.reads).toBe(0);
    const b = await run({ kind: "length", length: 5 }, ["", ..."hello"]);
    expect(b.end).toEqual({ kind: "complete", wireBytes: 5, extra: 0 });
    expect(b.raw).toBe("hello");
    expect(lastFlags(b.steps)).toEqual([false, false, false, false, true]);
  });
  test("bytes past the end are counted, never emitted, and nothing more is read", async () => {
    const r = await run({ kind: "length", length: 5 }, ["hel", "loHTTP/1.1 200 OK\r\n"], false);
    expect(r.end).toEqual({ kind: "complete", wireBytes: 5, extra: 17 });
    expect(r.raw).toBe("hello");
    expect(r.unread).toBe(0);
  });
  test("early end of stream: truncated, with what was relayed", async () => {
    expect((await run({ kind: "length", length: 10 }, ["hel", "lo"])).end).toEqual({ kind: "truncated", wireBytes: 5 });
    expect((await run({ kind: "length", length: 10 }, [])).end).toEqual({ kind: "truncated", wireBytes: 0 });
  });
});

describe("chunked", () => {
  const wire = "5;ext=1\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nx-trailer: t\r\n\r\n";
  const next = "HTTP/1.1 200 OK\r\n";
  test("split at every byte boundary: raw bytes unchanged, payload decoded, extra counted", async () => {
    const whole = wire + next;
    for (let i = 0; i <= whole.length; i++) {
      const r = await run({ kind: "chunked" }, [whole.slice(0, i), whole.slice(i)], false);
      // `extra` is what was read past the end: the rest of the read the
      // body ended in (a read that starts after the end is never made).
      const extra = i < wire.length ? next.length : i - wire.length;
      expect({ i, end: r.end }).toEqual({ i, end: { kind: "complete", wireBytes: wire.length, extra } });
      expect(r.unread).toBe(i < wire.length ? 0 : 1);
      expect(r.raw).toBe(wire);
      expect(r.payload).toBe("hello world!");
      expect(r.steps.filter((s) => s.last).length).toBe(1);
      expect(r.steps.at(-1)!.last).toBe(true);
    }
  });
  test("one byte per read", async () => {
    const r = await run({ kind: "chunked" }, [..."" + wire]);
    expect(r.end).toEqual({ kind: "complete", wireBytes: wire.length, extra: 0 });
    expect(r.raw).toBe(wire);
    expect(r.payload).toBe("hello world!");
  });
  test("malformed framing stops at once, before the bad piece is emitted", async () => {
    const r = await run({ kind: "chunked" }, ["5\r\nhello\r\n", "zz\r\n"], false);
    expect(r.end).toMatchObject({ kind: "malformed", wireBytes: 10 });
    expect((r.end as { reason: string }).reason).toStartWith("bad chunked response: ");
    expect(r.raw).toBe("5\r\nhello\r\n");
    expect((await run({ kind: "chunked" }, ["5\nhello\n0\n\n"])).end.kind).toBe("malformed");
  });
  test("early end of stream, mid-chunk or before the last chunk: truncated", async () => {
    expect((await run({ kind: "chunked" }, ["5\r\nhel"])).end).toEqual({ kind: "truncated", wireBytes: 6 });
    expect((await run({ kind: "chunked" }, ["5\r\nhello\r\n"])).end).toEqual({ kind: "truncated", wireBytes: 10 });
    expect((await run({ kind: "chunked" }, ["5\r\nhello\r\n0\r\n"])).end.kind).toBe("truncated");
  });
});

describe("close-delimited", () => {
  test("everything up to end of stream, then one empty `last` step", async () => {
    const r = await run({ kind: "close" }, ["abc", "", "def"]);
    expect(r.end).toEqual({ kind: "closed", wireBytes: 6 });
    expect(r.raw).toBe("abcdef");
    expect(lastFlags(r.steps)).toEqual([false, false, true]);
    expect(r.steps.at(-1)!.raw.length).toBe(0);
  });
  test("an empty body", async () => {
    const r = await run({ kind: "close" }, []);
    expect(r.end).toEqual({ kind: "closed", wireBytes: 0 });
    expect(lastFlags(r.steps)).toEqual([true]);
  });
});

describe("no body: HEAD, 1xx, 204, 304 (whatever their headers say)", () => {
  const framingOf = (method: string, head: string): Framing => {
    const p = parseResponseHead(Buffer.from(head + "\r\n", "latin1"));
    if (p.kind !== "ok") throw new Error("test head did not parse");
    const f = responseFraming(method, p.head);
    if (!("ok" in f)) throw new Error(f.reason);
    return f.framing;
  };
  test("nothing is emitted or read; bytes after the head are extra", async () => {
    const cases: [string, string][] = [
      ["HEAD", "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n"],
      ["HEAD", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"],
      ["GET", "HTTP/1.1 204 No Content\r\ncontent-length: 10\r\n"],
      ["GET", "HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n"],
      ["GET", "HTTP/1.1 103 Early Hints\r\n"],
    ];
    for (const [method, head] of cases) {
      const framing = framingOf(method, head);
      expect(framing).toEqual({ kind: "none" });
      const clean = await run(framing, [""], false);
      expect(clean).toMatchObject({ end: { kind: "complete", wireBytes: 0, extra: 0 }, steps: [], reads: 0 });
      // A body the upstream sent anyway is not relayed: it is counted as
      // extra, which makes the upstream connection unusable.
      const smuggled = await run(framing, ["0123456789"], false);
      expect(smuggled).toMatchObject({ end: { kind: "complete", wireBytes: 0, extra: 10 }, steps: [], reads: 0 });
    }
  });
  test("the framing of the same heads for GET", () => {
    expect(framingOf("GET", "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n")).toEqual({ kind: "length", length: 10 });
    expect(framingOf("GET", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n")).toEqual({ kind: "chunked" });
    expect(framingOf("GET", "HTTP/1.1 200 OK\r\n")).toEqual({ kind: "close" });
    expect(framingOf("GET", "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n")).toEqual({ kind: "none" });
  });
});
