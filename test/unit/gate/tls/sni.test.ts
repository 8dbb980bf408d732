import { beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { parseClientHelloSni } from "../../../../src/gate/tls/sni.ts";
import { build, captureHello, ECH, ESNI, handshake, host, insertExt, parseHello, PSK, records, replaceSni, sniData, TICKET, u16, withExts, type Hello } from "../../../helpers/tls-hello.ts";

// Regression cases of the ClientHello SNI peek, found by the SNI fuzzer
// (test/fuzz/sni.fuzz.test.ts): each is a real ClientHello with one thing
// changed that the old peek accepted with SNI "allowed.test" although a
// TLS server reads another name from it, or refuses it, or cannot be
// known to agree. Each must now be refused.
let rec: Buffer;
let h: Hello;
beforeAll(async () => {
  rec = await captureHello({ servername: "allowed.test", ALPNProtocols: ["h2", "http/1.1"] });
  h = parseHello(rec);
});

const refused = (b: Buffer, reason: string) => expect(parseClientHelloSni(b)).toEqual({ kind: "error", reason });
const name = (s: string) => sniData([host(s)]);

test("a real ClientHello: the name, and incomplete until its record is whole", () => {
  expect(parseClientHelloSni(rec)).toMatchObject({ kind: "ok", sni: "allowed.test" });
  for (const cut of [0, 4, 5, 40, rec.length - 1]) expect(parseClientHelloSni(rec.subarray(0, cut))).toEqual({ kind: "incomplete" });
  // What follows the record (the client's next records) is not read.
  expect(parseClientHelloSni(Buffer.concat([rec, Buffer.from([0x14, 3, 3, 0, 1, 1])]))).toMatchObject({ kind: "ok", sni: "allowed.test" });
  expect(parseClientHelloSni(build(withExts(h, h.exts.filter((e) => e.type !== 0))))).toMatchObject({ kind: "ok", sni: null });
});

describe("every length consumed exactly, one ClientHello per record", () => {
  test("bytes after the ClientHello in its record (a second ClientHello naming another host)", () => {
    const msg = Buffer.concat([handshake(h), handshake(replaceSni(h, name("evil.test")))]);
    refused(Buffer.concat([Buffer.from([22, 3, 1]), u16(msg.length), msg]), "bytes after the ClientHello in its record");
  });
  test("a server_name list longer than its extension (read into the next one)", () => {
    const ext = h.exts.find((e) => e.type === 0)!;
    const data = Buffer.from(ext.data);
    data.writeUInt16BE(data.readUInt16BE(0) + 4, 0);
    refused(build(replaceSni(h, data)), "truncated ClientHello");
  });
  test("an extensions block shorter than the message", () => {
    const msg = Buffer.concat([handshake(h), Buffer.from([0, 0])]);
    msg.writeUIntBE(msg.readUIntBE(1, 3) + 2, 1, 3);
    refused(Buffer.concat([Buffer.from([22, 3, 1]), u16(msg.length), msg]), "bytes left over after the extensions");
  });
  test("a record that is not TLS 1.x, or larger than 2^14", () => {
    refused(Buffer.concat([Buffer.from([22, 2, 0]), rec.subarray(3)]), "not a TLS record version");
    refused(Buffer.from([22, 3, 1, 0x40, 0x01]), "TLS record too large");
  });
  test("a ClientHello spread over two records is refused, not reassembled", () => {
    const msg = handshake(h);
    refused(records(h, msg, [msg.indexOf(Buffer.from("allowed.test"))]), "ClientHello spans several records");
  });
});

describe("exactly one name: one host_name, one server_name extension", () => {
  test("two host_names in the list (the old peek took the first)", () => {
    refused(build(replaceSni(h, sniData([host("allowed.test"), host("evil.test")]))), "bytes left over after the host_name (several server names)");
  });
  test("another name type first, or only", () => {
    refused(build(replaceSni(h, sniData([{ type: 1, name: Buffer.from("x") }, host("allowed.test")]))), "server_name entry is not a host_name");
    refused(build(replaceSni(h, sniData([{ type: 255, name: Buffer.from("evil.test") }]))), "server_name entry is not a host_name");
  });
  test("a second server_name extension (the old peek took the first)", () => {
    refused(build(insertExt(h, { type: 0, data: name("evil.test") })), "extension 0 appears twice");
    refused(build(insertExt(h, { type: 16, data: Buffer.from([0, 3, 2, 0x68, 0x32]) })), "extension 16 appears twice");
  });
  test("an extension after pre_shared_key", () => {
    const psk = { type: PSK, data: Buffer.from([0, 0, 0, 0]) };
    refused(build(withExts(h, [...h.exts.filter((e) => e.type !== PSK), psk, { type: 0xaaaa, data: Buffer.alloc(0) }])), "an extension after pre_shared_key");
  });
  test("an empty server_name extension", () => {
    refused(build(replaceSni(h, Buffer.alloc(0))), "truncated ClientHello");
  });
});

describe("the name's bytes: ASCII host name characters, 1 to 255", () => {
  test.each([
    // normalizeHost maps U+00AA to "a": the gate saw allowed.test, the server other bytes
    ["a byte IDNA maps to a letter", "\xaallowed.test"],
    ["a NUL", "allowed.test\x00evil.test"],
    ["a space", "allowed test"],
    ["a slash", "allowed.test/evil"],
    ["a colon", "allowed.test:443"],
    ["UTF-8", "ällowed.test"],
  ])("refused: %s", (_why, n) => refused(build(replaceSni(h, sniData([{ type: 0, name: Buffer.from(n, _why === "UTF-8" ? "utf8" : "latin1") }]))), "server name with a byte that is not a host name character"));
  test("empty or longer than 255", () => {
    refused(build(replaceSni(h, name(""))), "server name empty or too long");
    refused(build(replaceSni(h, name("a".repeat(256)))), "server name empty or too long");
  });
  test("case, a trailing dot, underscores and punycode are read as sent", () => {
    for (const n of ["ALLOWED.test", "allowed.test.", "_x.allowed.test", "xn--bcher-kva.example", "a".repeat(255)]) {
      expect(parseClientHelloSni(build(replaceSni(h, name(n))))).toMatchObject({ kind: "ok", sni: n });
    }
  });
});

test("an encrypted ClientHello or ESNI: the name the server uses is sealed inside", () => {
  for (const type of [ECH, 0xfe0a, ESNI]) {
    refused(build(insertExt(h, { type, data: randomBytes(40) })), "encrypted ClientHello: the server name is hidden from the gate");
  }
});

test("a TLS 1.2 session ticket: a resuming server takes the ticket's name, not the SNI", () => {
  refused(build(replaceSni(withExts(h, [...h.exts.filter((e) => e.type !== TICKET), { type: TICKET, data: randomBytes(160) }]), name("allowed.test"))), "resumes a TLS 1.2 session by ticket, whose server name the gate cannot see");
  // An empty one only says the client supports tickets.
  expect(parseClientHelloSni(build(withExts(h, [...h.exts.filter((e) => e.type !== TICKET), { type: TICKET, data: Buffer.alloc(0) }])))).toMatchObject({ kind: "ok", sni: "allowed.test" });
});
