import net from "node:net";
import { createCa, type CaMaterial } from "../../gate/tls/ca.ts";
import { createLeafMinter } from "../../gate/tls/leaf.ts";
import { parseClientHelloSni } from "../../gate/tls/sni.ts";
import { latin1, type ArrivalLog } from "./record.ts";

// The "internet" of the escape suite: one recording HTTPS server (its own CA,
// one leaf per name, chosen by SNI) and one plain HTTP server, both on the
// host's loopback. It answers for the allowed host, a host without the
// credential route, and an "evil" host no policy allows: whatever reaches it
// under any name is an arrival, so a request that got through a sandbox's
// door shows up here, not only in the sandbox's own account of it.

export interface RecordingUpstream {
  ca: CaMaterial;
  httpsPort: number;
  httpPort: number;
  stop(): void;
}

// /echo and /echo-header play a careless upstream that reflects the
// request (httpbin's /headers, a debug page): the credential a gate
// injected comes back in the body, or in a response header; /echo-sse
// streams it back in two text deltas, as a model API streams text.
// The head is recorded as soon as it arrives, the body when it is complete:
// a request whose body never completes (a gate that cut it off) still shows.
async function answer(req: Request, scheme: "https" | "http", log: ArrivalLog, from: string): Promise<Response> {
  const url = new URL(req.url);
  const headers = [...req.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
  const receiver = `upstream ${url.hostname}`;
  log.add({ kind: scheme, receiver, from, text: `${req.method} ${url.pathname}${url.search}\n${headers}\n` });
  let body: string;
  try {
    body = Buffer.from(await req.arrayBuffer()).toString("latin1");
  } catch {
    log.add({ kind: scheme, receiver, from, text: "(body cut off)" });
    return new Response("", { status: 400 });
  }
  if (body.length > 0) log.add({ kind: scheme, receiver, from, text: `(body)\n${body}\n` });
  if (url.pathname === "/echo") return new Response(`${headers}\n`, { status: 200 });
  if (url.pathname === "/echo-sse") {
    // A streaming API echoing the header the way model APIs stream text:
    // two text deltas, in two writes, each half of the value.
    const v = req.headers.get("authorization") ?? "";
    const half = Math.floor(v.length / 2);
    const event = (text: string) =>
      `event: content_block_delta\ndata: ${JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })}\n\n`;
    const stream = new ReadableStream<Uint8Array>({
      async start(ctrl) {
        ctrl.enqueue(new TextEncoder().encode(event(v.slice(0, half))));
        await new Promise((r) => setTimeout(r, 50));
        ctrl.enqueue(new TextEncoder().encode(event(v.slice(half))));
        ctrl.close();
      },
    });
    return new Response(stream, { status: 200, headers: { "content-type": "text/event-stream" } });
  }
  if (url.pathname === "/echo-header") {
    return new Response("upstream-ok\n", { status: 200, headers: { "x-echo-authorization": req.headers.get("authorization") ?? "" } });
  }
  return new Response("upstream-ok\n", { status: 200 });
}

// The ports a sandbox's door dials are raw TCP fronts to the servers, so
// what an HTTP parser refuses (a smuggled or oversized request, bytes that
// are not HTTP) is still an arrival. Plain HTTP: every byte is recorded.
// TLS: the bytes are ciphertext, so the front records the ClientHello's SNI
// once per connection, "(TLS handshake, SNI <name>)": a gate that opens a
// connection early (while it still scans the body) and never sends the
// request shows as exactly that, and the request itself, if any, is the
// server's record.
export const TLS_HANDSHAKE = /^\(TLS handshake, SNI (\S+)\)$/;

async function recordingFront(target: number, bind: string, log: ArrivalLog, tls: boolean): Promise<{ port: number; stop(): void }> {
  const receiver = `upstream ${tls ? "https" : "http"} (tcp)`;
  const server = net.createServer((client) => {
    const from = client.remoteAddress ?? "";
    const up = net.connect(target, "127.0.0.1");
    let hello: Buffer | null = tls ? Buffer.alloc(0) : null;
    // (net sockets without an encoding give Buffers)
    const close = () => {
      client.destroy();
      up.destroy();
    };
    client.on("data", (d) => {
      if (hello !== null) {
        hello = Buffer.concat([hello, d as Buffer]);
        const r = parseClientHelloSni(hello);
        if (r.kind !== "incomplete") {
          const text = r.kind === "ok" ? `(TLS handshake, SNI ${r.sni ?? "none"})` : `(not TLS: ${r.reason}) ${latin1(hello.subarray(0, 200))}`;
          log.add({ kind: "https", receiver, from, text, bytes: hello.length });
          hello = null;
        }
      } else if (!tls) {
        log.add({ kind: "http", receiver, from, text: latin1(d), bytes: d.length });
      }
      up.write(d);
    });
    up.on("data", (d) => client.write(d));
    client.on("end", () => up.end());
    up.on("end", () => client.end());
    client.on("error", close);
    up.on("error", close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, bind, () => resolve());
  });
  return { port: (server.address() as net.AddressInfo).port, stop: () => server.close() };
}

// `names` are the host names the upstream answers for (one leaf each; a
// "*.domain" name gets a wildcard leaf).
export async function startRecordingUpstream(names: string[], log: ArrivalLog, bind = "127.0.0.1"): Promise<RecordingUpstream> {
  const ca = await createCa("selftest-upstream");
  const minter = await createLeafMinter(ca);
  const leaves = await Promise.all(names.map((n) => minter.get(n)));
  const peer = (server: { requestIP(r: Request): { address: string } | null }, req: Request) => server.requestIP(req)?.address ?? "";
  const https = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Unlimited: a body is recorded whole, however large (the log's window
    // cap decides whether it was too much to judge).
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    tls: names.map((n, i) => ({ serverName: n, cert: leaves[i]!.certPem, key: leaves[i]!.keyPem })),
    fetch: (req, server) => answer(req, "https", log, peer(server, req)),
  });
  const http = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch: (req, server) => answer(req, "http", log, peer(server, req)),
  });
  const httpsFront = await recordingFront(https.port!, bind, log, true);
  const httpFront = await recordingFront(http.port!, bind, log, false);
  return {
    ca,
    httpsPort: httpsFront.port,
    httpPort: httpFront.port,
    stop: () => {
      httpsFront.stop();
      httpFront.stop();
      https.stop(true);
      http.stop(true);
    },
  };
}
