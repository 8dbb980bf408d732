// A hand-built TLS 1.2 ClientHello with whatever bytes an attacker puts in
// its SNI: real clients refuse to send control characters or a newline
// there; a bottle's own program does not have to.

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
const ext = (type: number, body: Buffer) => Buffer.concat([u16(type), u16(body.length), body]);

export function clientHello(sni: Buffer | string): Buffer {
  const name = typeof sni === "string" ? Buffer.from(sni, "latin1") : sni;
  const serverName = Buffer.concat([u16(name.length + 3), Buffer.from([0]), u16(name.length), name]);
  const extensions = Buffer.concat([
    ext(0x0000, serverName),
    ext(0x000a, Buffer.from([0, 4, 0, 0x17, 0, 0x1d])), // supported_groups: P-256, X25519
    ext(0x000b, Buffer.from([1, 0])), // ec_point_formats: uncompressed
    ext(0x000d, Buffer.from([0, 4, 4, 3, 8, 4])), // signature_algorithms
  ]);
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7), // random
    Buffer.from([0]), // session id
    u16(4),
    Buffer.from([0xc0, 0x2b, 0xc0, 0x2f]), // ECDHE-ECDSA/RSA-AES128-GCM-SHA256
    Buffer.from([1, 0]), // compression: null
    u16(extensions.length),
    extensions,
  ]);
  const hs = Buffer.concat([Buffer.from([1]), u24(body.length), body]);
  return Buffer.concat([Buffer.from([0x16, 3, 1]), u16(hs.length), hs]);
}
