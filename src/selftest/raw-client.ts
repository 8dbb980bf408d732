// A tiny Node program run INSIDE the bottle for attacks curl cannot express:
// exact bytes on the wire (smuggling, slowloris, oversized headers, a body
// split across chunks, a Host header that disagrees with the CONNECT
// target). Node is in every agent image. It talks to the in-bottle relay
// like any other client would.
//
// usage: node raw.js <proxyUrl> <connectTarget|-> <servername|-> <delayMs> <piece>...
// Each piece is sent as-is (JSON-string-decoded, so "\r\n" works), with
// <delayMs> between pieces. Prints "STATUS <code>" for the first response
// status line seen (or "STATUS none" / "ERROR <msg>"), then the first 300
// bytes of the response.
export const RAW_CLIENT_JS = String.raw`
const net = require("net"), tls = require("tls");
const [proxyUrl, target, servername, delay, ...pieces] = process.argv.slice(2);
const proxy = new URL(proxyUrl);
const auth = proxy.username
  ? "Proxy-Authorization: Basic " + Buffer.from(decodeURIComponent(proxy.username) + ":" + decodeURIComponent(proxy.password)).toString("base64") + "\r\n"
  : "";
const parts = pieces.map((p) => JSON.parse(p));
if (auth && target === "-" && parts.length > 0) {
  const eol = parts[0].indexOf("\r\n");
  if (eol >= 0) parts[0] = parts[0].slice(0, eol + 2) + auth + parts[0].slice(eol + 2);
}
let out = "";
const done = (why) => {
  const m = out.match(/^HTTP\/1\.[01] (\d{3})/m);
  console.log("STATUS " + (m ? m[1] : "none") + (why ? " " + why : ""));
  console.log(out.slice(0, 300));
  process.exit(0);
};
const send = async (sock) => {
  for (const p of parts) {
    if (sock.destroyed) break;
    sock.write(p);
    await new Promise((r) => setTimeout(r, Number(delay)));
  }
};
const timer = setTimeout(() => done("timeout"), 20000);
// autoSelectFamily: "localhost" may be ::1 or 127.0.0.1, whichever listens.
const raw = net.connect({ port: Number(proxy.port || 80), host: proxy.hostname.replace(/^\[|\]$/g, ""), autoSelectFamily: true }, () => {
  if (target === "-") {
    raw.on("data", (d) => (out += d.toString("latin1")));
    raw.on("close", () => done(""));
    send(raw);
    return;
  }
  raw.write("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n" + auth + "\r\n");
  let head = "";
  const onData = (d) => {
    head += d.toString("latin1");
    if (!head.includes("\r\n\r\n")) return;
    raw.removeListener("data", onData);
    if (!/^HTTP\/1\.[01] 200/.test(head)) { out = head; return done("connect-refused"); }
    const s = tls.connect({ socket: raw, servername: servername === "-" ? undefined : servername });
    s.on("secureConnect", () => send(s));
    s.on("data", (d) => (out += d.toString("latin1")));
    s.on("error", (e) => { out += "\nTLSERROR " + e.message; done("tls-error"); });
    s.on("close", () => done(""));
  };
  raw.on("data", onData);
});
raw.on("error", (e) => { console.log("ERROR " + e.message); process.exit(0); });
`;
