import { describe, expect, test } from "bun:test";
import { ChunkedDecoder, ChunkedError } from "../../../../src/gate/http/chunked.ts";
import { parseRequestHead, parseResponseHead, requestFraming, responseFraming } from "../../../../src/gate/http/head.ts";
import { parseClientHelloSni } from "../../../../src/gate/tls/sni.ts";

const b = (s: string) => Buffer.from(s, "latin1");

function ok(s: string) {
  const r = parseRequestHead(b(s));
  if (r.kind !== "ok") throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r;
}
function errOf(s: string) {
  const r = parseRequestHead(b(s));
  if (r.kind !== "error") throw new Error(`expected error, got ${r.kind}`);
  return r;
}

describe("request head", () => {
  test("parses request line and headers, reports head size", () => {
    const r = ok("GET http://a.test/x?y=1 HTTP/1.1\r\nHost: a.test\r\nX-A:  v  \r\n\r\nBODY");
    expect(r.head.method).toBe("GET");
    expect(r.head.target).toBe("http://a.test/x?y=1");
    expect(r.head.headers).toEqual([["Host", "a.test"], ["X-A", "v"]]);
    expect(r.size).toBe(r.size);
    expect(b("GET http://a.test/x?y=1 HTTP/1.1\r\nHost: a.test\r\nX-A:  v  \r\n\r\n").length).toBe(r.size);
  });
  test("incomplete until the blank line", () => {
    expect(parseRequestHead(b("GET / HTTP/1.1\r\nHost: a")).kind).toBe("incomplete");
    expect(parseRequestHead(b("GET / HTTP/1.1\r\nHost: a\r\n\r")).kind).toBe("incomplete");
  });
  test("leading CRLF between keep-alive requests is skipped", () => {
    expect(ok("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").head.method).toBe("GET");
  });
  test("bare LF, bare CR, obs-fold, space before colon, CTL in value are 400", () => {
    expect(errOf("GET / HTTP/1.1\nHost: a\n\n").status).toBe(400);
    expect(errOf("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n").status).toBe(400);
    expect(errOf("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n").reason).toContain("folding");
    expect(errOf("GET / HTTP/1.1\r\nHost : a\r\n\r\n").status).toBe(400);
    expect(errOf("GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n").status).toBe(400);
    expect(errOf("GET  / HTTP/1.1\r\n\r\n").status).toBe(400);
    expect(errOf("GET / HTTP/2.0\r\n\r\n").status).toBe(505);
    expect(errOf("G(T / HTTP/1.1\r\n\r\n").status).toBe(400);
  });
  test("limits: long request line 414, big head 431, many headers 431", () => {
    expect(errOf("GET /" + "a".repeat(9000) + " HTTP/1.1\r\n\r\n").status).toBe(414);
    expect(errOf("GET /" + "a".repeat(9000)).status).toBe(414);
    expect(errOf("GET / HTTP/1.1\r\nX: " + "a".repeat(70000) + "\r\n\r\n").status).toBe(431);
    expect(errOf("GET / HTTP/1.1\r\nX: " + "a".repeat(70000)).status).toBe(431);
    expect(errOf("GET / HTTP/1.1\r\n" + "X: a\r\n".repeat(200) + "\r\n").status).toBe(431);
  });
});

describe("request framing (smuggling)", () => {
  const fr = (s: string) => requestFraming(ok(s).head);
  test("content-length, chunked, none", () => {
    expect(fr("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n")).toEqual({ ok: true, framing: { kind: "length", length: 5 } });
    expect(fr("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")).toEqual({ ok: true, framing: { kind: "chunked" } });
    expect(fr("GET / HTTP/1.1\r\n\r\n")).toEqual({ ok: true, framing: { kind: "none" } });
  });
  test("CL+TE, duplicate CL, bad CL, other codings are rejected", () => {
    expect(fr("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")).toMatchObject({ status: 400 });
    expect(fr("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")).toMatchObject({ status: 400 });
    expect(fr("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n")).toMatchObject({ status: 400 });
    expect(fr("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n")).toMatchObject({ status: 400 });
    expect(fr("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")).toMatchObject({ status: 501 });
    expect(fr("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")).toMatchObject({ status: 501 });
    expect(fr("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")).toMatchObject({ status: 400 });
  });
});

describe("chunked decoder", () => {
  const decodeAll = (parts: string[]) => {
    const d = new ChunkedDecoder();
    let out = "";
    let end = -1;
    let idx = 0;
    for (const p of parts) {
      const r = d.push(b(p));
      out += r.data.map((x) => Buffer.from(x).toString("latin1")).join("");
      if (r.end >= 0) {
        end = r.end;
        break;
      }
      idx++;
    }
    return { out, end, idx, done: d.done };
  };
  test("decodes across arbitrary splits, ignores extensions, drops trailers, finds the end", () => {
    const wire = "5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
    for (let cut = 1; cut < wire.length - 4; cut++) {
      const r = decodeAll([wire.slice(0, cut), wire.slice(cut)]);
      expect(r.out).toBe("hello world");
      expect(r.done).toBe(true);
    }
    const one = decodeAll([wire]);
    expect(wire.slice(one.end)).toBe("NEXT");
  });
  test("strict: bare LF, missing CRLF after data, bad hex, huge size", () => {
    expect(() => new ChunkedDecoder().push(b("5\nhello\r\n"))).toThrow(ChunkedError);
    expect(() => new ChunkedDecoder().push(b("5\r\nhelloX\r\n"))).toThrow(ChunkedError);
    expect(() => new ChunkedDecoder().push(b("5 \r\n"))).toThrow(ChunkedError);
    expect(() => new ChunkedDecoder().push(b("-5\r\n"))).toThrow(ChunkedError);
    expect(() => new ChunkedDecoder().push(b("0x5\r\n"))).toThrow(ChunkedError);
    expect(() => new ChunkedDecoder().push(b("ffffffffffffff\r\n"))).toThrow(ChunkedError);
    expect(() => new ChunkedDecoder().push(b("0\r\n\n"))).toThrow(ChunkedError);
  });
});

describe("response framing", () => {
  const res = (s: string) => {
    const r = parseResponseHead(b(s));
    if (r.kind !== "ok") throw new Error(r.kind);
    return r.head;
  };
  test("HEAD/204/304 no body; CL; chunked; close-delimited; conflicting CL is 502", () => {
    expect(responseFraming("HEAD", res("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))).toMatchObject({ framing: { kind: "none" } });
    expect(responseFraming("GET", res("HTTP/1.1 204 No Content\r\n\r\n"))).toMatchObject({ framing: { kind: "none" } });
    expect(responseFraming("GET", res("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))).toMatchObject({ framing: { kind: "length", length: 5 } });
    expect(responseFraming("GET", res("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))).toMatchObject({ framing: { kind: "chunked" } });
    expect(responseFraming("GET", res("HTTP/1.1 200 OK\r\n\r\n"))).toMatchObject({ framing: { kind: "close" } });
    expect(responseFraming("GET", res("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"))).toMatchObject({ status: 502 });
  });
});

describe("ClientHello SNI", () => {
  test("finds the SNI in a real ClientHello and reports incomplete records", async () => {
    const tls = await import("node:tls");
    const net = await import("node:net");
    const got: Buffer[] = [];
    const srv = net.createServer((s) => {
      s.on("data", (d) => {
        got.push(Buffer.from(d));
        s.destroy();
      });
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => {
      const c = tls.connect({ host: "127.0.0.1", port, servername: "api.example.com" });
      c.on("error", () => r());
      c.on("close", () => r());
    });
    srv.close();
    const hello = Buffer.concat(got);
    expect(parseClientHelloSni(hello)).toMatchObject({ kind: "ok", sni: "api.example.com" });
    expect(parseClientHelloSni(hello.subarray(0, 20)).kind).toBe("incomplete");
    expect(parseClientHelloSni(b("GET / HTTP/1.1\r\n\r\n")).kind).toBe("error");
  });
});
