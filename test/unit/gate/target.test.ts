import { describe, expect, test } from "bun:test";
import { parseRequestHead, type RequestHead } from "../../../src/gate/http/head.ts";
import { targetOf, type Tunnel } from "../../../src/gate/target.ts";

// Target resolution without a socket: heads come from the gate's own parser,
// as the bottle's bytes would.
function head(requestLine: string, ...headers: string[]): RequestHead {
  const r = parseRequestHead(Buffer.from(`${requestLine}\r\n${headers.map((h) => h + "\r\n").join("")}\r\n`, "latin1"));
  if (r.kind !== "ok") throw new Error(`test head did not parse: ${JSON.stringify(r)}`);
  return r.head;
}
const tunnel = (host: string, port = 443, isIp = false): Tunnel => ({ host, port, isIp });

describe("outside a tunnel: absolute-form http:// only", () => {
  test("host, port, path and query; the authority as the client wrote it", () => {
    expect(targetOf(head("GET http://Example.COM:8080/a/b?x=1 HTTP/1.1", "Host: example.com:8080"), null)).toEqual({
      scheme: "http",
      host: "example.com",
      isIp: false,
      port: 8080,
      pathAndQuery: "/a/b?x=1",
      authority: "Example.COM:8080",
    });
  });
  test("default port 80; an empty path is /, a bare query gets one", () => {
    expect(targetOf(head("GET http://a.test HTTP/1.1"), null)).toMatchObject({ port: 80, pathAndQuery: "/" });
    expect(targetOf(head("GET http://a.test?q=1 HTTP/1.1"), null)).toMatchObject({ port: 80, pathAndQuery: "/?q=1" });
  });
  test("the absolute-form URL wins over a Host header naming another host", () => {
    expect(targetOf(head("GET http://a.test/ HTTP/1.1", "Host: b.test"), null)).toMatchObject({ host: "a.test", authority: "a.test" });
  });
  test("IPv6 literal", () => {
    expect(targetOf(head("GET http://[::1]:8080/x HTTP/1.1"), null)).toEqual({
      scheme: "http",
      host: "::1",
      isIp: true,
      port: 8080,
      pathAndQuery: "/x",
      authority: "[::1]:8080",
    });
  });
  test("inet_aton spellings are the address they mean", () => {
    expect(targetOf(head("GET http://0x7f.1/ HTTP/1.1"), null)).toMatchObject({ host: "127.0.0.1", isIp: true });
  });
  test("https://, origin-form, OPTIONS * and bad hosts are refused", () => {
    expect(targetOf(head("GET https://a.test/ HTTP/1.1"), null)).toEqual({ status: 400, reason: "https:// requests must use CONNECT" });
    expect(targetOf(head("GET /x HTTP/1.1", "Host: a.test"), null)).toMatchObject({ status: 400, reason: expect.stringContaining("not a proxy request") });
    expect(targetOf(head("OPTIONS * HTTP/1.1", "Host: a.test"), null)).toMatchObject({ status: 400 });
    expect(targetOf(head("GET http://a.test:99999/ HTTP/1.1"), null)).toEqual({ status: 400, reason: "invalid host in request URL" });
    expect(targetOf(head("GET http://[::1/ HTTP/1.1"), null)).toEqual({ status: 400, reason: "invalid host in request URL" });
    expect(targetOf(head("GET http://a..b/ HTTP/1.1"), null)).toEqual({ status: 403, reason: "invalid host: empty label in host" });
  });
});

describe("inside a terminated tunnel: the CONNECT target is authoritative", () => {
  test("origin-form with a matching Host; the authority omits 443 and keeps other ports", () => {
    expect(targetOf(head("GET /v1/x?y HTTP/1.1", "Host: api.test"), tunnel("api.test"))).toEqual({
      scheme: "https",
      host: "api.test",
      isIp: false,
      port: 443,
      pathAndQuery: "/v1/x?y",
      authority: "api.test",
    });
    expect(targetOf(head("GET / HTTP/1.1", "Host: api.test:8443"), tunnel("api.test", 8443))).toMatchObject({ port: 8443, authority: "api.test:8443" });
  });
  test("Host spelled differently but naming the same host and port", () => {
    expect(targetOf(head("GET / HTTP/1.1", "Host: API.test.:443"), tunnel("api.test"))).toMatchObject({ host: "api.test" });
  });
  test("a Host naming another host or port is refused (403)", () => {
    expect(targetOf(head("GET / HTTP/1.1", "Host: evil.test"), tunnel("api.test"))).toEqual({
      status: 403,
      reason: "Host evil.test:443 does not match CONNECT target api.test:443",
    });
    expect(targetOf(head("GET / HTTP/1.1", "Host: api.test"), tunnel("api.test", 8443))).toEqual({
      status: 403,
      reason: "Host api.test:443 does not match CONNECT target api.test:8443",
    });
    expect(targetOf(head("GET / HTTP/1.1", "Host: a..b"), tunnel("api.test"))).toEqual({ status: 403, reason: "invalid Host header inside tunnel" });
  });
  test("absolute-form https:// must name the tunnel too; http:// is not a target inside a tunnel", () => {
    expect(targetOf(head("GET https://api.test/x HTTP/1.1", "Host: api.test"), tunnel("api.test"))).toMatchObject({ pathAndQuery: "/x" });
    expect(targetOf(head("GET https://api.test HTTP/1.1", "Host: api.test"), tunnel("api.test"))).toMatchObject({ pathAndQuery: "/" });
    expect(targetOf(head("GET https://evil.test/x HTTP/1.1", "Host: api.test"), tunnel("api.test"))).toMatchObject({ status: 403 });
    // The URL names the tunnel, the Host header another host: still refused.
    expect(targetOf(head("GET https://api.test/x HTTP/1.1", "Host: evil.test"), tunnel("api.test"))).toMatchObject({ status: 403 });
    expect(targetOf(head("GET http://api.test/x HTTP/1.1", "Host: api.test"), tunnel("api.test"))).toEqual({
      status: 400,
      reason: "invalid request target inside tunnel",
    });
  });
  test("OPTIONS * is allowed inside a tunnel, * with another method is not", () => {
    expect(targetOf(head("OPTIONS * HTTP/1.1", "Host: api.test"), tunnel("api.test"))).toMatchObject({ pathAndQuery: "*" });
    expect(targetOf(head("GET * HTTP/1.1", "Host: api.test"), tunnel("api.test"))).toEqual({ status: 400, reason: "invalid request target inside tunnel" });
  });
  test("missing Host: refused on HTTP/1.1, accepted on HTTP/1.0", () => {
    expect(targetOf(head("GET / HTTP/1.1"), tunnel("api.test"))).toEqual({ status: 400, reason: "missing Host header" });
    expect(targetOf(head("GET / HTTP/1.0"), tunnel("api.test"))).toMatchObject({ scheme: "https", host: "api.test", authority: "api.test" });
  });
  test("IPv6 tunnel: the authority is bracketed, the Host must name the same address", () => {
    const t = tunnel("2001:db8::1", 443, true);
    expect(targetOf(head("GET / HTTP/1.1", "Host: [2001:DB8:0::1]"), t)).toMatchObject({ host: "2001:db8::1", isIp: true, authority: "[2001:db8::1]" });
    expect(targetOf(head("GET / HTTP/1.1", "Host: [2001:db8::1]:8443"), tunnel("2001:db8::1", 8443, true))).toMatchObject({ authority: "[2001:db8::1]:8443" });
    expect(targetOf(head("GET / HTTP/1.1", "Host: [2001:db8::2]"), t)).toMatchObject({ status: 403 });
  });
});

describe("inside a tunnel that carries plain HTTP", () => {
  const plain = (host: string, port = 80): Tunnel => ({ host, port, isIp: false, plain: true });
  test("requests are http; port 80 is the default for Host", () => {
    expect(targetOf(head("GET /x HTTP/1.1", "Host: a.test"), plain("a.test"))).toEqual({
      scheme: "http",
      host: "a.test",
      isIp: false,
      port: 80,
      pathAndQuery: "/x",
      authority: "a.test",
    });
    expect(targetOf(head("GET /x HTTP/1.1", "Host: a.test:8080"), plain("a.test", 8080))).toMatchObject({ scheme: "http", authority: "a.test:8080" });
  });
  test("absolute-form http:// naming the tunnel's host; https:// is not what it carries", () => {
    expect(targetOf(head("GET http://a.test/x HTTP/1.1", "Host: a.test"), plain("a.test"))).toMatchObject({ scheme: "http", pathAndQuery: "/x" });
    expect(targetOf(head("GET https://a.test/x HTTP/1.1", "Host: a.test"), plain("a.test"))).toEqual({ status: 400, reason: "invalid request target inside tunnel" });
  });
  test("the Host must name the CONNECT authority", () => {
    expect(targetOf(head("GET /x HTTP/1.1", "Host: b.test"), plain("a.test"))).toEqual({ status: 403, reason: "Host b.test:80 does not match CONNECT target a.test:80" });
    expect(targetOf(head("GET /x HTTP/1.1", "Host: a.test"), plain("a.test", 8080))).toEqual({ status: 403, reason: "Host a.test:80 does not match CONNECT target a.test:8080" });
    expect(targetOf(head("GET http://b.test/x HTTP/1.1", "Host: a.test"), plain("a.test"))).toMatchObject({ status: 403 });
  });
});
