import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { compileDlp } from "../../../../src/gate/dlp/index.ts";
import { multipartBoundaries } from "../../../../src/gate/dlp/multipart.ts";

// The multipart reader under every chunking: a body arrives in socket
// reads cut anywhere, a delimiter or a part's headers across two of them.

const SECRET = "bottle-secret-Vq7ZxP2mK9wL4nR8";
const dlp = compileDlp({ secrets: [{ name: "MY_SECRET", value: SECRET }], placeholders: [] });
const te = new TextEncoder();

function form(boundary: string, file: Uint8Array, eol = "\r\n"): Buffer {
  return Buffer.concat([
    Buffer.from(`preamble${eol}--${boundary}${eol}Content-Disposition: form-data; name="a"${eol}${eol}hello${eol}`),
    Buffer.from(`--${boundary}  ${eol}Content-Disposition: form-data; name="f"; filename="x.gz"${eol}Content-Type: application/gzip${eol}${eol}`),
    file,
    Buffer.from(`${eol}--${boundary}--${eol}epilogue`),
  ]);
}

async function scan(body: Buffer, cut: number, ct: string) {
  const s = dlp.encodedBodyScanner(null, [ct]);
  return (await s.push(body.subarray(0, cut))) ?? (await s.push(body.subarray(cut))) ?? (await s.end());
}

describe("multipart parts are sniffed one by one", () => {
  const dirty = gzipSync(te.encode(`{"k":"${SECRET}"}`));
  const clean = gzipSync(te.encode(`{"k":"nothing here"}`));
  for (const eol of ["\r\n", "\n"]) {
    test(`a gzip part, cut at every offset (${JSON.stringify(eol)} lines)`, async () => {
      const bad = form("b0und", dirty, eol);
      const good = form("b0und", clean, eol);
      for (let cut = 0; cut <= bad.length; cut++) {
        expect((await scan(bad, cut, "multipart/form-data; boundary=b0und"))?.rule).toBe("secret:MY_SECRET");
      }
      for (let cut = 0; cut <= good.length; cut++) expect(await scan(good, cut, "multipart/form-data; boundary=b0und")).toBeNull();
    });
  }

  test("without a multipart Content-Type the parts are not read (the receiver does not read them either)", async () => {
    expect(await scan(form("b0und", dirty), 10, "application/octet-stream")).toBeNull();
  });

  test("boundaries: quoted, escaped, several values, any case", () => {
    expect(multipartBoundaries(['multipart/form-data; boundary="a b;c"'])).toEqual(["a b;c"]);
    expect(multipartBoundaries(["Multipart/Mixed; charset=x; BOUNDARY=zz", "text/plain; boundary=no", "multipart/related; boundary=yy"])).toEqual(["zz", "yy"]);
    expect(multipartBoundaries(["multipart/form-data"])).toEqual([]);
  });
});
