import { parseServerHello } from "./server-hello.ts";
import { parseClientHelloSni } from "./sni.ts";

// What a passthrough tunnel checks of the TLS handshake it relays without
// terminating it. A server reads the name it serves from the client's
// plaintext ClientHello, and there can be more than one: after a
// HelloRetryRequest (TLS 1.3, RFC 8446 §4.1.4) the client sends a second
// one, and the server reads its name anew (OpenSSL runs its servername
// callback again and switches context to the new name). So the tunnel is
// followed record by record, both ways, until the upstream's real
// ServerHello:
//   - client → upstream: the first record must be a ClientHello, and every
//     handshake record after it must be a ClientHello the upstream asked
//     for (one per HelloRetryRequest it sent); each is checked like the
//     first (`check`: its SNI against the CONNECT host). Change cipher
//     spec, alerts and TLS 1.3 early data (encrypted) pass.
//   - upstream → client: handshake messages are read until the
//     ServerHello; a HelloRetryRequest lets one more ClientHello through.
// Past the real ServerHello the client cannot carry a new plaintext
// ClientHello: TLS 1.3 protects every later handshake record and a TLS
// 1.2 server expects the client's key exchange; a ClientHello there is an
// unexpected message (RFC 8446 §5, RFC 5246 §7.4), and a TLS 1.2
// renegotiation happens under the session's encryption. The tunnel is
// then bytes (passthrough.ts).
//
// The ServerHello also says whether a TLS 1.2 server resumes a session by
// its id: it echoes the client's non-empty session id (RFC 5246
// §7.4.1.3), and a resumed session keeps the name it was made for, which
// the gate never saw (OpenSSL's SSL_get_servername returns the session's).
// The ClientHello cannot say it: a TLS 1.3 client sends a random 32-byte
// session id for middlebox compatibility (RFC 8446 §4.1.2), exactly like a
// TLS 1.2 session id. So the tunnel is cut there, before the ServerHello
// reaches the client.
//
// Pure: bytes in; the whole records that may go on, or a refusal, out.
// Nothing goes on before it was read: an incomplete record is held.

export type Step = { out: Buffer | null; refused: null } | { out: null; refused: string };

const CHANGE_CIPHER_SPEC = 20;
const ALERT = 21;
const HANDSHAKE = 22;
const APPLICATION_DATA = 23;
const SERVER_HELLO = 2;
const MAX_RECORD = 16384;
const MAX_CIPHERTEXT = MAX_RECORD + 2048; // TLSCiphertext.length, TLS 1.2
const EMPTY = Buffer.alloc(0);

export const RESUMED_BY_ID = "the upstream resumes a TLS 1.2 session by its id, whose server name the gate cannot see";

const refuse = (reason: string): Step => ({ out: null, refused: reason });

export class HelloWatch {
  // ClientHellos that passed; and those the upstream still asks for (the
  // first, then one per HelloRetryRequest).
  hellos = 0;
  private wanted = 1;
  // The upstream's real ServerHello went by: nothing more to watch.
  done = false;
  private fromC: Buffer = EMPTY; // an incomplete client record
  private fromS: Buffer = EMPTY; // an incomplete upstream record
  private serverHs: Buffer = EMPTY; // the upstream's handshake bytes not yet read
  private sessionId: Uint8Array = EMPTY;

  // `check`: why a ClientHello naming `sni` (null: no server_name) is
  // refused, or null.
  constructor(private readonly check: (sni: string | null) => string | null) {}

  client(chunk: Buffer): Step {
    const buf = this.fromC.length ? Buffer.concat([this.fromC, chunk]) : chunk;
    let p = 0;
    for (;;) {
      const rest = buf.subarray(p);
      if (this.hellos === 0 || (rest.length > 0 && rest[0] === HANDSHAKE)) {
        const later = this.hellos > 0;
        if (later && this.wanted === 0) return refuse("a handshake record the upstream did not ask for: no HelloRetryRequest came before it");
        const h = parseClientHelloSni(rest);
        if (h.kind === "incomplete") break;
        const where = later ? "ClientHello after a HelloRetryRequest: " : "";
        if (h.kind === "error") return refuse(`${where}not a TLS ClientHello (${h.reason})`);
        const why = this.check(h.sni);
        if (why !== null) return refuse(where + why);
        this.hellos++;
        this.wanted--;
        this.sessionId = h.sessionId;
        p += h.size;
        continue;
      }
      if (rest.length < 5) break;
      const type = rest[0]!;
      if (type !== CHANGE_CIPHER_SPEC && type !== ALERT && type !== APPLICATION_DATA) return refuse(`a TLS record of type ${type} before the upstream's ServerHello`);
      const len = recordLength(rest);
      if (typeof len === "string") return refuse(len);
      if (rest.length < 5 + len) break;
      p += 5 + len;
    }
    this.fromC = buf.subarray(p);
    return { out: p > 0 ? buf.subarray(0, p) : null, refused: null };
  }

  upstream(chunk: Buffer): Step {
    const buf = this.fromS.length ? Buffer.concat([this.fromS, chunk]) : chunk;
    let p = 0;
    while (buf.length - p >= 5) {
      const rest = buf.subarray(p);
      const type = rest[0]!;
      if (type !== HANDSHAKE && type !== CHANGE_CIPHER_SPEC && type !== ALERT) return refuse(`the upstream did not answer with a TLS ServerHello (a record of type ${type})`);
      const len = recordLength(rest);
      if (typeof len === "string") return refuse(`the upstream did not answer with TLS (${len})`);
      if (rest.length < 5 + len) break;
      p += 5 + len;
      if (type !== HANDSHAKE) continue;
      this.serverHs = this.serverHs.length ? Buffer.concat([this.serverHs, rest.subarray(5, 5 + len)]) : rest.subarray(5, 5 + len);
      const why = this.readServerHandshake();
      if (why !== null) return refuse(why);
      if (this.done) {
        // Everything from here on is the upstream's to send unread.
        this.fromS = EMPTY;
        this.serverHs = EMPTY;
        return { out: buf, refused: null };
      }
    }
    this.fromS = buf.subarray(p);
    return { out: p > 0 ? buf.subarray(0, p) : null, refused: null };
  }

  // Client bytes held (part of a record) when the watch ended: theirs to
  // send on.
  takeHeld(): Buffer {
    const b = this.fromC;
    this.fromC = EMPTY;
    return b;
  }

  private readServerHandshake(): string | null {
    while (this.serverHs.length >= 4) {
      const hs = this.serverHs;
      const type = hs[0]!;
      const len = hs.readUIntBE(1, 3);
      if (type !== SERVER_HELLO) return `the upstream sent handshake message ${type} before its ServerHello`;
      if (len > MAX_RECORD) return "the upstream's ServerHello is longer than a record";
      if (hs.length < 4 + len) return null;
      const sh = parseServerHello(hs.subarray(4, 4 + len));
      this.serverHs = hs.subarray(4 + len);
      if (sh.kind === "error") return `the upstream's ServerHello is not readable (${sh.reason})`;
      if (sh.kind === "retry") {
        this.wanted++;
        continue;
      }
      if (!sh.tls13 && sh.sessionId.length > 0 && Buffer.from(sh.sessionId).equals(this.sessionId)) return RESUMED_BY_ID;
      this.done = true;
      return null;
    }
    return null;
  }
}

// The record's length, or why the header is refused.
function recordLength(rec: Buffer): number | string {
  if (rec[1] !== 0x03) return "not a TLS record version";
  const len = rec.readUInt16BE(3);
  return len > MAX_CIPHERTEXT ? "TLS record too large" : len;
}
