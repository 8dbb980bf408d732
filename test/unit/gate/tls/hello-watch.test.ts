import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import tls from "node:tls";
import { createCa } from "../../../../src/gate/tls/ca.ts";
import { HelloWatch, RESUMED_BY_ID, type Step } from "../../../../src/gate/tls/hello-watch.ts";
import { createLeafMinter } from "../../../../src/gate/tls/leaf.ts";
import { parseServerHello } from "../../../../src/gate/tls/server-hello.ts";
import { build, captureHello, CCS, host, KEY_SHARE, p256KeyShare, parseHello, SNI, sniData, withExt, type Hello } from "../../../helpers/tls-hello.ts";

// The passthrough handshake watch on real bytes: ClientHellos written by
// node:tls clients and the answers of a real TLS server (Bun's node:tls,
// BoringSSL) that accepts only P-256, so a hello with X25519 shares gets a
// HelloRetryRequest. The gate's check here: the SNI must be allowed.test.

let server: tls.Server;
let port = 0;
let ch1: Buffer; // real, allowed.test, no P-256 share
let h: Hello;
let retryFlight: Buffer; // the server's answer to ch1: HelloRetryRequest (+ CCS)
let helloFlight: Buffer; // its answer to the second hello: ServerHello, CCS, encrypted records
let ch2: Buffer; // ch1 with the share the retry asked for
let ch12: Buffer; // a real TLS 1.2-only ClientHello for allowed.test
let hello12: Buffer; // a real TLS 1.2 ServerHello flight answering it

const check = (sni: string | null) => (sni === "allowed.test" ? null : `SNI ${sni}`);

// Writes `parts` one after the other to the server on one connection,
// each once the server has answered the previous one; the answers.
async function converse(parts: Buffer[]): Promise<Buffer[]> {
  const s = net.connect(port, "127.0.0.1");
  s.on("error", () => {});
  let got = Buffer.alloc(0);
  s.on("data", (d: Buffer) => (got = Buffer.concat([got, d])));
  const out: Buffer[] = [];
  for (const p of parts) {
    const before = got.length;
    s.write(p);
    // An answer is whole once nothing more came for a moment.
    let last = -1;
    for (let i = 0; i < 500 && (got.length === before || got.length !== last); i++) {
      last = got.length;
      await Bun.sleep(20);
    }
    out.push(got.subarray(before));
  }
  s.destroy();
  return out;
}

beforeAll(async () => {
  const leaf = await (await createLeafMinter(await createCa("hello-watch"))).get("allowed.test");
  server = tls.createServer({ cert: leaf.certPem, key: leaf.keyPem, ecdhCurve: "P-256" }, (s) => s.end());
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
  ch1 = await captureHello({ servername: "allowed.test", ALPNProtocols: ["http/1.1"] });
  h = parseHello(ch1);
  ch2 = build(withExt(h, KEY_SHARE, p256KeyShare()));
  [retryFlight, helloFlight] = (await converse([ch1, Buffer.concat([CCS, ch2])])) as [Buffer, Buffer];
  ch12 = await captureHello({ servername: "allowed.test", maxVersion: "TLSv1.2" });
  hello12 = (await converse([ch12]))[0]!;
});
afterAll(() => server.close());

const out = (s: Step) => {
  expect(s.refused).toBeNull();
  return s.out ?? Buffer.alloc(0);
};

describe("the server's answers, read", () => {
  test("a HelloRetryRequest, the real ServerHello (TLS 1.3 and 1.2) and its session id", () => {
    const msg = (flight: Buffer) => flight.subarray(9, 9 + flight.readUIntBE(6, 3));
    expect(parseServerHello(msg(retryFlight))).toEqual({ kind: "retry" });
    const s13 = parseServerHello(msg(helloFlight));
    // A TLS 1.3 server echoes the client's (random) legacy_session_id.
    expect(s13).toEqual({ kind: "hello", tls13: true, sessionId: parseClientHelloSession(ch2) });
    const s12 = parseServerHello(msg(hello12));
    expect(s12).toMatchObject({ kind: "hello", tls13: false });
    // Every cut of the message is refused, but one: where its extensions
    // begin (a TLS 1.2 ServerHello may have none; a HelloRetryRequest
    // without supported_versions is refused). A byte more is refused.
    for (const [m, atFixedEnd] of [
      [msg(retryFlight), "error"],
      [msg(helloFlight), "hello"],
      [msg(hello12), "hello"],
    ] as const) {
      const fixedEnd = 2 + 32 + 1 + m[34]! + 3;
      for (let cut = 0; cut < m.length; cut++) expect(parseServerHello(m.subarray(0, cut)).kind).toBe(cut === fixedEnd ? atFixedEnd : "error");
      expect(parseServerHello(Buffer.concat([m, Buffer.from([0])]))).toMatchObject({ kind: "error" });
    }
  });
});

describe("a HelloRetryRequest lets one more ClientHello through, checked like the first", () => {
  test("the real handshake: each side's records go on whole, and the watch ends at the ServerHello", () => {
    const w = new HelloWatch(check);
    expect(out(w.client(ch1))).toEqual(ch1);
    expect(w.hellos).toBe(1);
    expect(out(w.upstream(retryFlight))).toEqual(retryFlight);
    expect(w.done).toBe(false);
    expect(out(w.client(Buffer.concat([CCS, ch2])))).toEqual(Buffer.concat([CCS, ch2]));
    expect(out(w.upstream(helloFlight))).toEqual(helloFlight);
    expect(w.done).toBe(true);
  });

  test("the same a byte at a time: nothing goes on before its record is whole", () => {
    const w = new HelloWatch(check);
    const feed = (f: (b: Buffer) => Step, bytes: Buffer) => {
      const sent: Buffer[] = [];
      for (let i = 0; i < bytes.length && !w.done; i++) {
        const o = out(f(bytes.subarray(i, i + 1)));
        if (o.length) sent.push(o);
      }
      return sent;
    };
    expect(feed((b) => w.client(b), ch1)).toEqual([ch1]);
    expect(Buffer.concat(feed((b) => w.upstream(b), retryFlight)).equals(retryFlight)).toBe(true);
    expect(feed((b) => w.client(b), Buffer.concat([CCS, ch2]))).toEqual([CCS, ch2]);
    // The ServerHello's record ends the watch; what follows is not held.
    const rest = feed((b) => w.upstream(b), helloFlight);
    expect(w.done).toBe(true);
    expect(Buffer.concat(rest).equals(helloFlight.subarray(0, 5 + helloFlight.readUInt16BE(3)))).toBe(true);
  });

  test("a second ClientHello naming another host: refused", () => {
    const w = new HelloWatch(check);
    out(w.client(ch1));
    out(w.upstream(retryFlight));
    const evil = build(withExt(withExt(h, KEY_SHARE, p256KeyShare()), SNI, sniData([host("evil.test")])));
    expect(w.client(Buffer.concat([CCS, evil]))).toEqual({ out: null, refused: "ClientHello after a HelloRetryRequest: SNI evil.test" });
  });

  test("a second ClientHello without SNI, or one broken: refused like a first", () => {
    const w = new HelloWatch(check);
    out(w.client(ch1));
    out(w.upstream(retryFlight));
    const bare = build({ ...h, exts: h.exts.filter((e) => e.type !== SNI) });
    expect(w.client(bare).refused).toBe("ClientHello after a HelloRetryRequest: SNI null");
    const w2 = new HelloWatch(check);
    out(w2.client(ch1));
    out(w2.upstream(retryFlight));
    const two = Buffer.from(ch2);
    two.writeUInt16BE(two.readUInt16BE(3) + 1, 3); // record one byte longer than its hello
    expect(w2.client(Buffer.concat([two, Buffer.from([1])])).refused).toBe("ClientHello after a HelloRetryRequest: not a TLS ClientHello (bytes after the ClientHello in its record)");
  });

  test("a ClientHello the server did not ask for (none, or a second retry's worth): refused at its first byte", () => {
    const w = new HelloWatch(check);
    out(w.client(ch1));
    expect(w.client(ch2.subarray(0, 1))).toEqual({ out: null, refused: "a handshake record the upstream did not ask for: no HelloRetryRequest came before it" });
    const w2 = new HelloWatch(check);
    out(w2.client(ch1));
    out(w2.upstream(retryFlight));
    out(w2.client(ch2));
    expect(w2.client(ch2).refused).toBe("a handshake record the upstream did not ask for: no HelloRetryRequest came before it");
  });

  test("what a client may send before the server's hello: change cipher spec, alerts, early data; nothing else", () => {
    const w = new HelloWatch(check);
    const early = Buffer.concat([CCS, Buffer.from([23, 3, 3, 0, 3, 1, 2, 3]), Buffer.from([21, 3, 3, 0, 2, 1, 0])]);
    expect(out(w.client(Buffer.concat([ch1, early])))).toEqual(Buffer.concat([ch1, early]));
    expect(w.client(Buffer.from([24, 3, 3, 0, 1, 0])).refused).toBe("a TLS record of type 24 before the upstream's ServerHello");
    expect(new HelloWatch(check).client(Buffer.from("GET / HTTP/1.1\r\n\r\n")).refused).toBe("not a TLS ClientHello (not a TLS handshake)");
  });

  test("held client bytes (part of a record) when the watch ends are handed back", () => {
    const w = new HelloWatch(check);
    out(w.client(ch1));
    out(w.upstream(retryFlight));
    const early = Buffer.from([23, 3, 3, 0, 10, 1, 2, 3]);
    expect(out(w.client(Buffer.concat([CCS, ch2, early])))).toEqual(Buffer.concat([CCS, ch2]));
    out(w.upstream(helloFlight));
    expect(w.takeHeld()).toEqual(early);
  });
});

describe("the upstream's side", () => {
  test("TLS 1.2: a ServerHello with a fresh session id ends the watch; one echoing the client's resumes, and is refused", () => {
    const w = new HelloWatch(check);
    out(w.client(ch12));
    expect(out(w.upstream(hello12))).toEqual(hello12);
    expect(w.done).toBe(true);

    // The client offers a session id; the server answers with it, or with
    // another one (a new session).
    const sid = Buffer.alloc(32, 7);
    const offer = build({ ...parseHello(ch12), fixed: withSessionId(parseHello(ch12).fixed, sid) });
    const r = new HelloWatch(check);
    out(r.client(offer));
    expect(r.upstream(serverSessionId(hello12, sid))).toEqual({ out: null, refused: RESUMED_BY_ID });
    const n = new HelloWatch(check);
    out(n.client(offer));
    out(n.upstream(serverSessionId(hello12, Buffer.alloc(32, 8))));
    expect(n.done).toBe(true);
  });

  test("an answer that is not a TLS ServerHello: refused", () => {
    const w = () => {
      const x = new HelloWatch(check);
      out(x.client(ch1));
      return x;
    };
    expect(w().upstream(Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n")).refused).toBe("the upstream did not answer with a TLS ServerHello (a record of type 72)");
    expect(w().upstream(Buffer.from([22, 3, 3, 0, 4, 11, 0, 0, 0])).refused).toBe("the upstream sent handshake message 11 before its ServerHello");
    expect(w().upstream(Buffer.from([23, 3, 3, 0, 1, 0])).refused).toBe("the upstream did not answer with a TLS ServerHello (a record of type 23)");
    // An alert passes (the client learns why), and the watch goes on.
    const x = w();
    expect(out(x.upstream(Buffer.from([21, 3, 3, 0, 2, 2, 40])))).toEqual(Buffer.from([21, 3, 3, 0, 2, 2, 40]));
    expect(x.done).toBe(false);
  });
});

// legacy_version(2) random(32) session_id<0..32> ...: `fixed` with the
// session id replaced.
function withSessionId(fixed: Buffer, sid: Buffer): Buffer {
  const old = fixed[34]!;
  return Buffer.concat([fixed.subarray(0, 34), Buffer.from([sid.length]), sid, fixed.subarray(35 + old)]);
}
// The server's flight with its ServerHello's session id replaced (lengths
// fixed up; the rest of the flight as it was).
function serverSessionId(flight: Buffer, sid: Buffer): Buffer {
  const recLen = flight.readUInt16BE(3);
  const msgLen = flight.readUIntBE(6, 3);
  const body = flight.subarray(9, 9 + msgLen);
  const nb = Buffer.concat([body.subarray(0, 34), Buffer.from([sid.length]), sid, body.subarray(35 + body[34]!)]);
  const len3 = Buffer.from([nb.length >> 16, (nb.length >> 8) & 0xff, nb.length & 0xff]);
  const rec = Buffer.concat([Buffer.from([2]), len3, nb, flight.subarray(9 + msgLen, 5 + recLen)]);
  const head = Buffer.from([22, 3, 3, rec.length >> 8, rec.length & 0xff]);
  return Buffer.concat([head, rec, flight.subarray(5 + recLen)]);
}
function parseClientHelloSession(rec: Buffer): Uint8Array {
  const fixed = parseHello(rec).fixed;
  return new Uint8Array(fixed.subarray(35, 35 + fixed[34]!));
}
