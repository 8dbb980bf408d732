import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync, gzipSync } from "node:zlib";
import { curl, route, startEnv, zipOf, type Env } from "./harness.ts";

// A compressed file uploaded as a form field. `curl -F file=@notes.gz`
// (and every browser, requests' `files=`, an SDK's upload helper) sends
// multipart/form-data: the body starts with the boundary, so the file's
// gzip/zlib/zip magic sits after the part's headers, not at the body's
// first byte. The receiver reads the part by the boundary in Content-Type
// and gets the compressed file whole; the gate must read it the same way.
// Real curl as the client, the recording upstream shows what arrived.

const SECRET = "bottle-secret-Vq7ZxP2mK9wL4nR8";
const te = new TextEncoder();
const dirty = te.encode(`{"note":"hello","key":"${SECRET}"}\n`);
const clean = te.encode(`{"note":"hello"}\n`);

let env: Env;
let files: string;
beforeAll(async () => {
  env = await startEnv((up) => [route("up.test", { ports: [up.httpPort] })], {
    secrets: { credentials: {}, secrets: [{ name: "MY_SECRET", value: SECRET }] },
  });
  files = mkdtempSync(join(tmpdir(), "cb-multipart-"));
  for (const [name, data] of [["dirty", dirty], ["clean", clean]] as const) {
    writeFileSync(join(files, `${name}.gz`), gzipSync(data));
    writeFileSync(join(files, `${name}.z`), deflateSync(data));
    writeFileSync(join(files, `${name}.zip`), zipOf("notes.json", data));
  }
});
afterAll(async () => {
  await env.close();
  rmSync(files, { recursive: true, force: true });
});

const upload = (args: string[]) => curl(env, [`http://up.test:${env.up.httpPort}/upload`, "-F", "comment=see attached", ...args]);

describe("gate: a compressed file in a multipart form", () => {
  for (const ext of ["gz", "z", "zip"]) {
    test(`curl -F file=@dirty.${ext}: refused, the upstream sees nothing`, async () => {
      const before = env.up.seen.length;
      const r = await upload(["-F", `file=@${join(files, `dirty.${ext}`)};type=application/octet-stream`]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(403);
      expect(r.body).toStartWith("blocked: dlp: secret:MY_SECRET in body");
      expect(env.up.seen.length).toBe(before);
    });
  }

  test("the file as the second of two file fields (the secret's part is not the first)", async () => {
    const before = env.up.seen.length;
    const r = await upload(["-F", `a=@${join(files, "clean.gz")}`, "-F", `b=@${join(files, "dirty.gz")}`]);
    expect(r.status).toBe(403);
    expect(env.up.seen.length).toBe(before);
  });

  test("a quoted boundary, the whole form gzipped by Content-Encoding, the part gzip again: refused", async () => {
    const boundary = "a b;c";
    const form = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="x.gz"\r\n\r\n`),
      gzipSync(dirty),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    writeFileSync(join(files, "form.gz"), gzipSync(form));
    const before = env.up.seen.length;
    const r = await curl(env, [
      `http://up.test:${env.up.httpPort}/upload`,
      "-H", `Content-Type: multipart/form-data; boundary="${boundary}"`,
      "-H", "Content-Encoding: gzip",
      "--data-binary", `@${join(files, "form.gz")}`,
    ]);
    expect(r.status).toBe(403);
    expect(r.body).toStartWith("blocked: dlp: secret:MY_SECRET in body");
    expect(env.up.seen.length).toBe(before);
  });

  test("a bare-LF delimiter inside the zip's file name (a strict parser reads on; the gate cuts the zip there): refused", async () => {
    // busboy, multer and Python's parsers split on CRLF--boundary only: for
    // them this part is the whole zip. A reader that splits on a bare LF
    // too sees a zip cut inside its first header, and the rest looks like
    // a new part that is not compressed: what it cannot read must not pass.
    const boundary = "XyZzY";
    const zip = zipOf(`n\n--${boundary}\r\n\r\n.json`, dirty);
    const form = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="x.zip"\r\n\r\n`),
      zip,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    writeFileSync(join(files, "cut.form"), form);
    const before = env.up.seen.length;
    const r = await curl(env, [
      `http://up.test:${env.up.httpPort}/upload`,
      "-H", `Content-Type: multipart/form-data; boundary=${boundary}`,
      "--data-binary", `@${join(files, "cut.form")}`,
    ]);
    expect(r.status).toBe(403);
    expect(r.body).toStartWith("blocked: dlp: ");
    expect(env.up.seen.length).toBe(before);
  });

  test("the same forms with clean files go through, byte for byte", async () => {
    for (const ext of ["gz", "z", "zip"]) {
      const before = env.up.seen.length;
      const r = await upload(["-F", `file=@${join(files, `clean.${ext}`)}`, "-F", `b=@${join(files, `clean.${ext}`)}`]);
      expect(r.status).toBe(200);
      expect(env.up.seen.length).toBe(before + 1);
      expect(env.up.seen.at(-1)!.headers["content-type"]).toStartWith("multipart/form-data; boundary=");
    }
  });
});
