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

describe("trailers: field lines by RFC 9112 §5, no obs-fold", () => {
  test("well-formed trailer fields are read and dropped", () => {
    const wire = "5\r\nhello\r\n0\r\nX-Sum:  ab\x80 c \r\nEmpty:\r\nT:\tv\r\n\r\nNEXT";
    for (const byByte of [false, true]) expect(decode(wire, byByte)).toEqual({ data: "hello", end: wire.length - 4 });
  });
  test.each([
    ["a line without a colon", "0\r\ngarbage\r\n\r\n", "invalid trailer field name"],
    ["the next request read as trailers", "0\r\nGET /next HTTP/1.1\r\nHost: b\r\n\r\n", "invalid trailer field name"],
    ["a space before the colon", "0\r\nX : a\r\n\r\n", "invalid trailer field name"],
    ["an empty name", "0\r\n: a\r\n\r\n", "invalid trailer field name"],
    ["a separator in the name", "0\r\nX;: a\r\n\r\n", "invalid trailer field name"],
    ["obs-text in the name", "0\r\nX\x80: a\r\n\r\n", "invalid trailer field name"],
    ["a NUL in the value", "0\r\nX: a\x00b\r\n\r\n", "invalid trailer field value"],
    ["DEL in the value", "0\r\nX: a\x7f\r\n\r\n", "invalid trailer field value"],
    ["a bare LF in the value", "0\r\nX: a\nb\r\n\r\n", "invalid trailer field value"],
    ["a bare CR in the value", "0\r\nX: a\rb\r\n\r\n", "bare CR in trailer"],
    ["obs-fold", "0\r\nX: a\r\n folded\r\n\r\n", "obsolete line folding in trailer"],
  ])("refused: %s", (_why, wire, reason) => refused(wire, reason));
});
