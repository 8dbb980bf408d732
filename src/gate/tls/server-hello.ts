import { Reader, Refused } from "./reader.ts";

// The message a TLS server answers a ClientHello with, as a passthrough
// tunnel needs it (hello-watch.ts): a HelloRetryRequest (TLS 1.3 asking
// for a second ClientHello: a ServerHello whose random is
// SHA-256("HelloRetryRequest"), RFC 8446 §4.1.3), or the real ServerHello
// with its version and its session id. Strict like sni.ts: every length
// consumed exactly; what does not read cleanly is refused, not guessed at.

export type ServerHelloResult =
  | { kind: "retry" }
  | { kind: "hello"; tls13: boolean; sessionId: Uint8Array }
  | { kind: "error"; reason: string };

const HRR_RANDOM = Buffer.from("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c", "hex");
const EXT_SUPPORTED_VERSIONS = 43;
const TLS12 = 0x0303;
const TLS13 = 0x0304;

// `body`: the handshake message after its type and length.
export function parseServerHello(body: Uint8Array): ServerHelloResult {
  try {
    const m = new Reader("ServerHello", body);
    const legacyVersion = m.u16();
    const retry = HRR_RANDOM.equals(m.sub(32).bytes());
    const sid = m.u8();
    if (sid > 32) throw new Refused("session id too long");
    const sessionId = m.sub(sid).bytes().slice();
    m.skip(2 + 1); // cipher_suite, legacy_compression_method
    let selected: number | null = null;
    if (m.left > 0) {
      const exts = m.sub(m.u16());
      m.end("the extensions");
      const seen = new Set<number>();
      while (exts.left > 0) {
        const type = exts.u16();
        const data = exts.sub(exts.u16());
        if (seen.has(type)) throw new Refused(`extension ${type} appears twice`);
        seen.add(type);
        if (type === EXT_SUPPORTED_VERSIONS) {
          selected = data.u16();
          data.end("supported_versions");
        }
      }
    }
    // TLS 1.3 is chosen only by supported_versions (RFC 8446 §4.2.1); its
    // legacy_version says TLS 1.2.
    if (selected !== null && selected !== TLS13) throw new Refused(`supported_versions selects 0x${selected.toString(16)}`);
    const tls13 = selected === TLS13;
    if (!tls13 && (legacyVersion > TLS12 || legacyVersion < 0x0301)) throw new Refused(`version 0x${legacyVersion.toString(16)}`);
    if (retry) {
      if (!tls13) throw new Refused("a HelloRetryRequest outside TLS 1.3");
      return { kind: "retry" };
    }
    return { kind: "hello", tls13, sessionId };
  } catch (e) {
    if (e instanceof Refused) return { kind: "error", reason: e.message };
    throw e;
  }
}
