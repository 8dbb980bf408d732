import { expect, test } from "bun:test";
import { endToEndHeaders, serializeHeaders, wantsClose, type HeaderList } from "../../../../src/gate/http/head.ts";

test("wantsClose: HTTP/1.1 closes on `close`, HTTP/1.0 unless `keep-alive`; any Connection field counts", () => {
  const h = (...v: string[]): HeaderList => v.map((x) => ["Connection", x]);
  expect(wantsClose("HTTP/1.1", [])).toBe(false);
  expect(wantsClose("HTTP/1.1", h("Close"))).toBe(true);
  expect(wantsClose("HTTP/1.1", h("keep-alive", "close"))).toBe(true);
  expect(wantsClose("HTTP/1.1", h("upgrade, close"))).toBe(true);
  expect(wantsClose("HTTP/1.1", h("closed"))).toBe(false);
  expect(wantsClose("HTTP/1.0", [])).toBe(true);
  expect(wantsClose("HTTP/1.0", h("Keep-Alive"))).toBe(false);
  expect(wantsClose("HTTP/1.0", [["connection", "x"], ["CONNECTION", "keep-alive"]])).toBe(false);
});

test("endToEndHeaders drops hop-by-hop, framing, Host and the fields Connection names; order kept", () => {
  const hs: HeaderList = [
    ["Host", "a.test"],
    ["Accept", "*/*"],
    ["Connection", "X-Drop, keep-alive"],
    ["x-drop", "1"],
    ["Proxy-Authorization", "Basic abc"],
    ["Transfer-Encoding", "chunked"],
    ["Content-Length", "3"],
    ["Expect", "100-continue"],
    ["TE", "trailers"],
    ["Upgrade", "h2c"],
    ["X-Keep", "2"],
  ];
  expect(endToEndHeaders(hs)).toEqual([
    ["Accept", "*/*"],
    ["X-Keep", "2"],
  ]);
  expect(serializeHeaders(endToEndHeaders(hs))).toBe("Accept: */*\r\nX-Keep: 2\r\n");
});
