// Reads the SNI host name out of a TLS ClientHello without terminating TLS,
// for `tls: passthrough` routes: the gate still refuses a tunnel whose SNI
// names a different host than the CONNECT did (domain fronting).

export type HelloResult =
  | { kind: "incomplete" }
  | { kind: "error"; reason: string }
  | { kind: "ok"; sni: string | null };

// Only the first record is inspected; a ClientHello fits in one record in
// practice (16 KiB), and one spread over several is refused.
export function parseClientHelloSni(buf: Uint8Array): HelloResult {
  if (buf.length < 5) return { kind: "incomplete" };
  if (buf[0] !== 0x16) return { kind: "error", reason: "not a TLS handshake" };
  const recLen = (buf[3]! << 8) | buf[4]!;
  if (recLen > 16384 + 2048) return { kind: "error", reason: "TLS record too large" };
  if (buf.length < 5 + recLen) return { kind: "incomplete" };
  const b = buf.subarray(5, 5 + recLen);
  let p = 0;
  const need = (n: number) => {
    if (p + n > b.length) throw new Error("truncated ClientHello");
  };
  try {
    need(4);
    if (b[0] !== 0x01) return { kind: "error", reason: "not a ClientHello" };
    const hsLen = (b[1]! << 16) | (b[2]! << 8) | b[3]!;
    if (hsLen + 4 > b.length) return { kind: "error", reason: "ClientHello spans several records" };
    p = 4 + 2 + 32; // version + random
    need(1);
    p += 1 + b[p]!; // session id
    need(2);
    p += 2 + ((b[p]! << 8) | b[p + 1]!); // cipher suites
    need(1);
    p += 1 + b[p]!; // compression methods
    if (p === 4 + hsLen) return { kind: "ok", sni: null }; // no extensions
    need(2);
    const extEnd = p + 2 + ((b[p]! << 8) | b[p + 1]!);
    p += 2;
    if (extEnd > b.length) throw new Error("truncated extensions");
    while (p + 4 <= extEnd) {
      const type = (b[p]! << 8) | b[p + 1]!;
      const len = (b[p + 2]! << 8) | b[p + 3]!;
      p += 4;
      if (p + len > extEnd) throw new Error("truncated extension");
      if (type === 0) {
        // server_name: list length, then entries (type 0 = host_name).
        let q = p + 2;
        const listEnd = p + 2 + ((b[p]! << 8) | b[p + 1]!);
        while (q + 3 <= listEnd) {
          const nt = b[q]!;
          const nl = (b[q + 1]! << 8) | b[q + 2]!;
          q += 3;
          if (q + nl > listEnd) throw new Error("truncated server name");
          if (nt === 0) return { kind: "ok", sni: Buffer.from(b.subarray(q, q + nl)).toString("latin1") };
          q += nl;
        }
        return { kind: "ok", sni: null };
      }
      p += len;
    }
    return { kind: "ok", sni: null };
  } catch (e) {
    return { kind: "error", reason: (e as Error).message };
  }
}
