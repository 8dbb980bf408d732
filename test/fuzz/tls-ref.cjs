// Reference for the SNI fuzzer: Node's TLS (OpenSSL), run by `node`.
//
//   node tls-ref.cjs capture   first stdin line {cert, key, ticketKeys};
//     then one JSON line per client: {servername, alpn, session, maxVersion}.
//     A real tls.connect() to a local socket; out: the bytes it wrote up to
//     the end of its first flight's ClientHello record(s), base64, or the
//     error node gave. `session` names a session made at start-up by a full
//     handshake with a real server ("12:<name>" or "13:<name>": TLS version
//     and the servername it was made for).
//   node tls-ref.cjs judge     first stdin line {cert, key, ticketKeys};
//     then one base64 byte stream per line, fed to a real node:tls server
//     (isServer TLSSocket over an in-memory stream). Out: the name its
//     SNICallback got, the servername OpenSSL uses once it answers
//     (getServername(): for a resumed TLS 1.2 session, the session's), its
//     answer (picking a certificate for the name, a handshake record, an
//     alert or nothing), and whether it resumed a session.
"use strict";
const tls = require("node:tls");
const net = require("node:net");
const readline = require("node:readline");
const { Duplex } = require("node:stream");

process.removeAllListeners("warning"); // node warns about IP servernames; recorded, not printed

// Both processes use the same ticket keys and session id context, so a
// session made by `capture` resumes on `judge`'s server.
const serverOptions = (cfg) => ({ cert: cfg.cert, key: cfg.key, ticketKeys: Buffer.from(cfg.ticketKeys, "base64"), sessionIdContext: "sni-fuzz" });
const context = (cfg) => tls.createSecureContext(serverOptions(cfg));

// A real handshake with a real server, to get a session (and its ticket).
function makeSession(cfg, version, servername) {
  return new Promise((resolve, reject) => {
    const srv = tls.createServer(serverOptions(cfg), (s) => s.end("x"));
    srv.listen(0, "127.0.0.1", () => {
      const c = tls.connect({ host: "127.0.0.1", port: srv.address().port, servername, rejectUnauthorized: false, maxVersion: version, minVersion: version });
      let session = null;
      c.on("session", (s) => (session = s));
      c.on("data", () => {});
      c.on("error", reject);
      c.on("close", () => {
        srv.close();
        session ? resolve(session) : reject(new Error(`no ${version} session for ${servername}`));
      });
    });
  });
}

// Length of the first flight's leading handshake records, once complete.
function helloEnd(buf) {
  let p = 0;
  let hs = Buffer.alloc(0);
  while (p + 5 <= buf.length) {
    const len = buf.readUInt16BE(p + 3);
    if (p + 5 + len > buf.length) return -1;
    if (buf[p] !== 22) return p;
    hs = Buffer.concat([hs, buf.subarray(p + 5, p + 5 + len)]);
    p += 5 + len;
    if (hs.length >= 4 && hs.length >= 4 + hs.readUIntBE(1, 3)) return p;
  }
  return -1;
}

function capture(opts, sessions) {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      srv.close();
      resolve(r);
    };
    const srv = net.createServer((s) => {
      s.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        const end = helloEnd(buf);
        if (end > 0) {
          s.destroy();
          finish({ hello: buf.subarray(0, end).toString("base64"), err: null });
        }
      });
      s.on("error", (e) => (err ??= e.code || e.message));
    });
    srv.listen(0, "127.0.0.1", () => {
      try {
        const o = { host: "127.0.0.1", port: srv.address().port, rejectUnauthorized: false, servername: opts.servername };
        if (opts.alpn) o.ALPNProtocols = opts.alpn;
        if (opts.maxVersion) o.maxVersion = opts.maxVersion;
        if (opts.session) o.session = sessions.get(opts.session);
        const c = tls.connect(o);
        c.on("error", (e) => setImmediate(() => finish({ hello: null, err: e.code || e.message })));
      } catch (e) {
        finish({ hello: null, err: e.code || e.message });
      }
    });
  });
}

// OpenSSL calls the SNICallback (node's certificate callback) once it has
// parsed and checked the whole ClientHello (every extension, a PSK's
// binder) and is about to pick a certificate for the name: that is its
// answer, and the handshake is stopped there, which is 2-3 times cheaper
// than completing it. Without a name, or when resuming (no certificate),
// the first record it writes is its answer.
function judge(ctx, bytes) {
  return new Promise((resolve) => {
    let sni = null;
    let used = null;
    let answer = null;
    let resumed = false;
    let err = null;
    let settled = false;
    const look = (what) => {
      if (answer !== null) return;
      answer = what;
      used = (s._handle && s._handle.getServername()) || null;
      resumed = Boolean(s._handle && s._handle.isSessionReused());
    };
    const d = new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        look(chunk[0] === 22 ? "handshake" : chunk[0] === 21 ? "alert" : `byte ${chunk[0]}`);
        cb();
      },
    });
    const s = new tls.TLSSocket(d, {
      isServer: true,
      secureContext: ctx,
      SNICallback: (n, cb) => {
        sni = n;
        look("certificate");
        cb(new Error("enough"));
      },
    });
    // The whole input is there and ended: the server either answers, fails,
    // or waits for bytes that never come ('end' with nothing written). Two
    // more turns let a pending write land first.
    const fin = () => {
      if (settled) return;
      settled = true;
      setImmediate(() => setImmediate(() => resolve({ sni, used, answer, resumed, err: answer === "certificate" ? null : err })));
    };
    s.on("error", (e) => (err ??= e.code || e.message));
    s.on("end", fin);
    s.on("close", fin);
    d.push(bytes);
    d.push(null);
  });
}

const lines = [];
readline.createInterface({ input: process.stdin }).on("line", (l) => lines.push(l)).on("close", async () => {
  const cfg = JSON.parse(lines.shift());
  const ctx = context(cfg);
  const out = [];
  if (process.argv[2] === "capture") {
    const sessions = new Map();
    const wanted = new Set(lines.map((l) => JSON.parse(l).session).filter(Boolean));
    for (const k of wanted) {
      const [v, name] = [k.slice(0, 2), k.slice(3)];
      sessions.set(k, await makeSession(cfg, v === "12" ? "TLSv1.2" : "TLSv1.3", name));
    }
    for (const l of lines) out.push(JSON.stringify(await capture(JSON.parse(l), sessions)));
  } else {
    const inputs = lines.map((l) => Buffer.from(l, "base64"));
    for (let i = 0; i < inputs.length; i += 200) {
      const rs = await Promise.all(inputs.slice(i, i + 200).map((b) => judge(ctx, b)));
      for (const r of rs) out.push(JSON.stringify(r));
    }
  }
  process.stdout.write(out.join("\n") + "\n");
});
