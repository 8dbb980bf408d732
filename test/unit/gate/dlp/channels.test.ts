import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { crc32, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { compileDlp } from "../../../../src/gate/dlp/index.ts";
import { base32Cores } from "../../../../src/gate/dlp/variants.ts";
import { PROSE } from "./corpus.ts";

// The byte channels a scanner that only reads decoded payloads misses:
// gzip header fields, bodies compressed without a Content-Encoding, zip
// entries, a long secret's tail, a secret in base32.

const SECRET = "bottle-secret-Vq7ZxP2mK9wL4nR8";
const dlp = compileDlp({ secrets: [{ name: "MY_SECRET", value: SECRET }], placeholders: [] });
const FOUND = { rule: "secret:MY_SECRET", where: "body" };
const te = new TextEncoder();

async function scan(body: Uint8Array, enc: string | null = null, chunk = 1000) {
  const s = dlp.encodedBodyScanner(enc);
  for (let i = 0; i < body.length; i += chunk) {
    const f = await s.push(body.subarray(i, i + chunk));
    if (f) return f;
  }
  return s.end();
}

// A gzip member with optional FEXTRA / FNAME / FCOMMENT (RFC 1952).
function gzipWith(data: Uint8Array, o: { extra?: Buffer; name?: string; comment?: string }): Buffer {
  let flg = 0;
  const parts: Buffer[] = [];
  if (o.extra) {
    flg |= 4;
    const len = Buffer.alloc(2);
    len.writeUInt16LE(o.extra.length);
    parts.push(len, o.extra);
  }
  if (o.name !== undefined) {
    flg |= 8;
    parts.push(Buffer.from(o.name + "\0", "latin1"));
  }
  if (o.comment !== undefined) {
    flg |= 16;
    parts.push(Buffer.from(o.comment + "\0", "latin1"));
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length, 4);
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 8, flg, 0, 0, 0, 0, 0, 3]), ...parts, deflateRawSync(data), trailer]);
}

// A zip with one entry per file, method 8 (deflate) or 0 (stored);
// `descriptor`: sizes left out of the local header (general purpose bit 3)
// and written after the data, as streaming zip writers do.
function zip(files: { name: string; data: Uint8Array; method?: 0 | 8; descriptor?: boolean; flags?: number; rawMethod?: number }[]): Buffer {
  const out: Buffer[] = [];
  for (const f of files) {
    const method = f.method ?? 8;
    const body = method === 8 ? deflateRawSync(f.data) : Buffer.from(f.data);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE((f.descriptor ? 8 : 0) | (f.flags ?? 0), 6);
    h.writeUInt16LE(f.rawMethod ?? method, 8);
    h.writeUInt32LE(f.descriptor ? 0 : crc32(f.data) >>> 0, 14);
    h.writeUInt32LE(f.descriptor ? 0 : body.length, 18);
    h.writeUInt32LE(f.descriptor ? 0 : f.data.length, 22);
    h.writeUInt16LE(Buffer.byteLength(f.name), 26);
    out.push(h, Buffer.from(f.name), body);
    if (f.descriptor) {
      const d = Buffer.alloc(16);
      d.writeUInt32LE(0x08074b50, 0);
      d.writeUInt32LE(crc32(f.data) >>> 0, 4);
      d.writeUInt32LE(body.length, 8);
      d.writeUInt32LE(f.data.length, 12);
      out.push(d);
    }
  }
  return Buffer.concat(out);
}

const clean = te.encode(PROSE);
const dirty = te.encode(`${PROSE}\nkey=${SECRET}\n${PROSE}`);

describe("gzip header fields are the sender's bytes", () => {
  for (const [field, o] of [
    ["FNAME", { name: `${SECRET}.txt` }],
    ["FCOMMENT", { comment: `note ${SECRET}` }],
    ["FEXTRA", { extra: Buffer.from(`XY${SECRET}`) }],
  ] as const) {
    test(`${field} carrying the secret: found (declared and sniffed)`, async () => {
      const body = gzipWith(clean, o);
      expect(await scan(body, "gzip")).toEqual(FOUND);
      expect(await scan(body, null)).toEqual(FOUND);
    });
  }
  test("the same members without the secret in the header pass", async () => {
    expect(await scan(gzipWith(clean, { name: "notes.txt", comment: "c", extra: Buffer.from("XYab") }), "gzip")).toBeNull();
  });
});

describe("every Content-Encoding layer", () => {
  test("two layers, listed in one field, are both undone", async () => {
    expect(await scan(gzipSync(gzipSync(dirty)), "gzip, gzip")).toEqual(FOUND);
    expect(await scan(gzipSync(deflateSync(dirty)), "deflate, gzip")).toEqual(FOUND);
  });
});

describe("compressed by its first bytes, with no Content-Encoding", () => {
  test("gzip, zlib: inflated and scanned", async () => {
    expect(await scan(gzipSync(dirty))).toEqual(FOUND);
    for (const level of [1, 3, 6, 9]) expect(await scan(deflateSync(dirty, { level }))).toEqual(FOUND);
    expect(await scan(gzipSync(clean))).toBeNull();
    expect(await scan(deflateSync(clean))).toBeNull();
  });
  test("a body sent in one-byte pieces is sniffed all the same", async () => {
    expect(await scan(gzipSync(dirty), null, 1)).toEqual(FOUND);
  });
  test("text that starts like a zlib header is text", async () => {
    expect(await scan(te.encode("x^2 + y^2 = z^2, a body about Pythagoras"))).toBeNull();
    expect(await scan(te.encode(`x^2 ${SECRET}`))).toEqual(FOUND);
  });
  test("a broken gzip stream is refused, not waved through", async () => {
    const z = gzipSync(dirty);
    expect(await scan(Buffer.concat([z.subarray(0, 40), Buffer.alloc(40, 0xff)]))).toEqual({ rule: "undecodable-body", where: "body" });
  });
  test("zip: each deflated entry is inflated, with sizes in the header or in a data descriptor", async () => {
    expect(await scan(zip([{ name: "a.txt", data: clean }, { name: "b.txt", data: dirty }]))).toEqual(FOUND);
    expect(await scan(zip([{ name: "a.txt", data: clean, descriptor: true }, { name: "b.txt", data: dirty, descriptor: true }]))).toEqual(FOUND);
    // A stored entry of unknown size first: the next header is still found.
    expect(await scan(zip([{ name: "a.bin", data: clean, method: 0, descriptor: true }, { name: "b.txt", data: dirty }]))).toEqual(FOUND);
    expect(await scan(zip([{ name: "a.txt", data: clean }, { name: "b.txt", data: clean, descriptor: true }]))).toBeNull();
  });
  test("zip: entries the gate cannot read are refused", async () => {
    expect(await scan(zip([{ name: "a.txt", data: clean, flags: 1 }]))).toEqual({ rule: "encrypted-archive-entry", where: "body" });
    expect(await scan(zip([{ name: "a.txt", data: clean, rawMethod: 14 }]))).toEqual({ rule: "unsupported-archive-entry", where: "body" });
  });
  test("zip: bounded (a larger archive than the window is refused)", async () => {
    const small = compileDlp({ secrets: [], placeholders: [], limits: { maxArchiveBytes: 64 * 1024 } });
    const s = small.encodedBodyScanner(null);
    const body = zip([{ name: "big.bin", data: crypto.getRandomValues(new Uint8Array(60_000)), method: 0 }, { name: "more.bin", data: crypto.getRandomValues(new Uint8Array(60_000)), method: 0 }]);
    expect((await s.push(body)) ?? (await s.end())).toEqual({ rule: "archive-size-limit", where: "body" });
  });
});

describe("long secrets over their whole length", () => {
  const pem = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const withKey = compileDlp({ secrets: [{ name: "DEPLOY_KEY", value: pem }], placeholders: [] });
  const scanWith = (d: typeof withKey, text: string) => {
    const s = d.bodyScanner();
    return s.push(te.encode(text)) ?? s.end();
  };
  test("the bottle's PEM key without its BEGIN line, or only its last lines, is the key", () => {
    const lines = pem.trim().split("\n");
    // (Its first body line is also what the private-key rule knows.)
    expect(scanWith(withKey, lines.slice(1).join("\n"))?.rule).toMatch(/^(secret:DEPLOY_KEY|private-key)$/);
    expect(scanWith(withKey, lines.slice(2).join("\n"))).toEqual({ rule: "secret:DEPLOY_KEY", where: "body" });
    expect(scanWith(withKey, lines.slice(-4).join("\n"))).toEqual({ rule: "secret:DEPLOY_KEY", where: "body" });
    // Joined onto one line, in JSON.
    expect(scanWith(withKey, JSON.stringify({ k: lines.slice(3, -1).join("") }))).toEqual({ rule: "secret:DEPLOY_KEY", where: "body" });
  });
  test("a private key the gate was not told about, without its BEGIN line: the key rule", () => {
    const other = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "sec1", format: "pem" }) as string;
    expect(scanWith(dlp, other.trim().split("\n").slice(1).join("\n"))).toEqual({ rule: "private-key", where: "body" });
  });
});

describe("the bottle's secrets in base32", () => {
  test("at any alignment in a body; in any case in a host name", async () => {
    for (const prefix of ["", "a", "ab", "abc", "abcd"]) {
      const core = base32Cores(te.encode(prefix + SECRET + "!"))[0]!;
      expect(await scan(te.encode(`x=${core}`))).toEqual(FOUND);
    }
    const b32 = base32Cores(te.encode(SECRET))[0]!.toLowerCase();
    expect(dlp.scanHost(`${b32.slice(0, 30)}.${b32.slice(30)}.x.example.com`)).toEqual({ rule: "secret:MY_SECRET", where: "host" });
  });
});
