// A hostile upstream for the gate's integration tests: raw keep-alive HTTP/1.1
// over plain TCP and TLS (its own test CA, names from the harness), that
// reads each request (head plus a Content-Length or chunked body) and lets
// the test write any bytes it likes back, at any time: a second response
// nobody asked for, bytes while the connection idles, a greeting before the
// request, a storm of interim responses. It records every request with the
// connection it arrived on, so a test can say which connection answered.
import net from "node:net";
import tls from "node:tls";
import { multiSanCert, NAMES } from "./harness.ts";

export interface RawRequest {
  conn: number;
  // n-th request on its connection (1-based).
  n: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

export type RawHandler = (req: RawRequest, sock: net.Socket) => void | Promise<void>;

export interface RawUpstream {
  caPem: string;
  httpsPort: number;
  httpPort: number;
  seen: RawRequest[];
  // Sockets by connection number (to write to one later, or to see it closed).
  conns: Map<number, net.Socket>;
  // Called on every new connection before any request (a greeting).
  onConnect: ((sock: net.Socket, conn: number) => void) | null;
  close(): void;
}

export const respond = (body: string, status = "200 OK", extra = "") =>
  `HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

export async function startRawUpstream(handler: RawHandler): Promise<RawUpstream> {
  const c = await multiSanCert([...NAMES, "localhost"], "hostile-upstream-test");
  const seen: RawRequest[] = [];
  const conns = new Map<number, net.Socket>();
  let nextConn = 1;
  const up: RawUpstream = {
    caPem: c.caPem,
    httpsPort: 0,
    httpPort: 0,
    seen,
    conns,
    onConnect: null,
    close() {
      for (const s of conns.values()) s.destroy();
      https.close();
      http.close();
    },
  };
  const onConn = (s: net.Socket) => {
    const conn = nextConn++;
    conns.set(conn, s);
    s.on("error", () => {});
    up.onConnect?.(s, conn);
    let buf: Buffer = Buffer.alloc(0);
    let n = 0;
    let busy: Promise<unknown> = Promise.resolve();
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = takeRequest(buf);
        if (!r) return;
        buf = buf.subarray(r.size);
        const req: RawRequest = { conn, n: ++n, ...r.req };
        seen.push(req);
        busy = busy.then(() => handler(req, s)).catch(() => s.destroy());
      }
    });
  };
  const https = tls.createServer({ cert: c.certPem, key: c.keyPem }, onConn);
  const http = net.createServer(onConn);
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  up.httpsPort = (https.address() as net.AddressInfo).port;
  up.httpPort = (http.address() as net.AddressInfo).port;
  return up;
}

// One whole request at the start of `buf`, or null while incomplete.
function takeRequest(buf: Buffer): { req: Omit<RawRequest, "conn" | "n">; size: number } | null {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const [method, path] = lines[0]!.split(" ");
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let at = end + 4;
  let body: Buffer = Buffer.alloc(0);
  if (headers["content-length"]) {
    const len = Number(headers["content-length"]);
    if (buf.length < at + len) return null;
    body = buf.subarray(at, at + len);
    at += len;
  } else if (headers["transfer-encoding"] === "chunked") {
    const parts: Buffer[] = [];
    for (;;) {
      const nl = buf.indexOf("\r\n", at);
      if (nl < 0) return null;
      const size = parseInt(buf.subarray(at, nl).toString("latin1"), 16);
      if (size === 0) {
        const fin = buf.indexOf("\r\n\r\n", nl);
        if (fin < 0) return null;
        at = fin + 4;
        break;
      }
      if (buf.length < nl + 2 + size + 2) return null;
      parts.push(buf.subarray(nl + 2, nl + 2 + size));
      at = nl + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { req: { method: method!, path: path!, headers, body: Buffer.from(body) }, size: at };
}

// Everything a raw client received, with a way to wait for a marker.
export class Received {
  private chunks: Buffer[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  constructor(readonly sock: net.Socket | tls.TLSSocket) {
    sock.on("data", (d: Buffer) => {
      this.chunks.push(Buffer.from(d));
      this.wakeAll();
    });
    sock.on("error", () => {});
    sock.once("close", () => {
      this.closed = true;
      this.wakeAll();
    });
  }
  private wakeAll() {
    for (const w of this.waiters.splice(0)) w();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }
  // Waits until the text contains `marker` `count` times, or the socket
  // closed, or the timeout; returns the text either way.
  async waitFor(marker: string, timeoutMs = 5000, count = 1): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (this.text().split(marker).length - 1 < count && !this.closed && Date.now() < end) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.text();
  }
}
