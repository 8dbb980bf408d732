import { describe, expect, test } from "bun:test";
import { ChunkedDecoder, ChunkedError } from "../../../../src/gate/http/chunked.ts";

// Regression cases found by the chunked fuzzer (test/fuzz/chunked.fuzz.test.ts):
// inputs the decoder accepted although RFC 9112 §7.1 forbids them. Each is
// fed whole and byte by byte: the verdict must not depend on the split.
const latin1 = (s: string) => Buffer.from(s, "latin1");

function decode(wire: string, byByte = false): { data: string; end: number } | { error: string } {
  const d = new ChunkedDecoder();
  const bytes = latin1(wire);
  const pieces = byByte ? [...bytes].map((_, i) => bytes.subarray(i, i + 1)) : [bytes];
  let data = "";
  let off = 0;
  try {
    for (const p of pieces) {
      const r = d.push(p);
      for (const x of r.data) data += Buffer.from(x).toString("latin1");
      if (r.end >= 0) return { data, end: off + r.end };
      off += p.length;
    }
  } catch (e) {
    if (e instanceof ChunkedError) return { error: e.message };
    throw e;
  }
  return { error: "incomplete" };
}

function refused(wire: string, reason: string) {
  expect(decode(wire)).toEqual({ error: reason });
  expect(decode(wire, true)).toEqual({ error: reason });
}

describe("chunk extensions: RFC 9112 §7.1.1 grammar, no whitespace", () => {
  test("well-formed extensions are read and dropped", () => {
    const wire = '5;a=b;c;d="x y\\"z;\\\\"\r\nhello\r\n0;last=1\r\n\r\nNEXT';
    for (const byByte of [false, true]) expect(decode(wire, byByte)).toEqual({ data: "hello", end: wire.length - 4 });
  });
  test.each([
    ["an empty name", "5;\r\nhello\r\n0\r\n\r\n"],
    ["two semicolons", "2;;a;\r\nab\r\n0\r\n\r\n"],
    ["a name then an empty one", "4;a;\r\nabcd\r\n0\r\n\r\n"],
    ["no name before =", "5;=b\r\nhello\r\n0\r\n\r\n"],
    ["no value after =", "5;a=\r\nhello\r\n0\r\n\r\n"],
    ["a space in a value", "5;a=b c\r\nhello\r\n0\r\n\r\n"],
    ["whitespace around ;", "5; a\r\nhello\r\n0\r\n\r\n"],
    ["a lone quote", '7b;"\r\nhello\r\n0\r\n\r\n'],
    ["an unterminated quoted value", '9;a="b\r\nhello\r\n0\r\n\r\n'],
    ["a quote inside a token", '5;a=b"\r\nhello\r\n0\r\n\r\n'],
    ["obs-text in a name", "5;\x80\r\nhello\r\n0\r\n\r\n"],
    ["a control byte in a quoted value", '5;a="\x00"\r\nhello\r\n0\r\n\r\n'],
    ["a control byte after a backslash", '5;a="\\\x01"\r\nhello\r\n0\r\n\r\n'],
    ["on the last chunk", "0;a b\r\n\r\n"],
  ])("refused: %s", (_why, wire) => refused(wire, "invalid chunk extension"));
});
