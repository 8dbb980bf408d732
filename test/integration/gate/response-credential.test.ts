import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { join } from "node:path";
import tls from "node:tls";
import { gzipSync } from "node:zlib";
import { makePlaceholder } from "../../../src/gate/credentials.ts";
import { countAs } from "../../../src/gate/audit-count.ts";
import { ChunkedDecoder } from "../../../src/gate/http/chunked.ts";
import { auditLines, BIG, BIG_SHA, connectTunnel, curl, multiSanCert, NAMES, route, sha, startEnv, tlsOver, type Env } from "./harness.ts";

// The real credential must not come back to the bottle in a response: an
// upstream on an auth route that echoes the request (headers, status line,
// body in every framing, an SSE stream) hands the client the placeholder
// (body) or a 502 (head), never the value. Real sockets: a raw upstream
// that writes exact bytes with pauses, the gate, raw TLS clients that
// record every byte they get.

const LONG = "sk-ant-api03-" + "Zr7Qm2Xk9Lp4Wn8Vb3Tc6Hd1Jf5Gs0Ay".repeat(3) + "-QwErTy";
const LONG_PH = makePlaceholder(LONG);
const SHORT = "tok-9Xq2Lm7Z";
const SHORT_PH = makePlaceholder(SHORT);

interface RawSeen {
  path: string;
  headers: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// What a raw client received, byte for byte, with a way to wait for more.
class Collector {
  private chunks: Buffer[] = [];
  private waiters: (() => void)[] = [];
  readonly closed: Promise<void>;
  constructor(readonly sock: net.Socket | tls.TLSSocket) {
    sock.on("data", (d: Buffer) => {
      this.chunks.push(Buffer.from(d));
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((r) => sock.once("close", () => r()));
    void this.closed.then(() => {
      for (const w of this.waiters.splice(0)) w();
    });
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  async waitFor(marker: string, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.bytes().includes(marker)) {
      if (this.sock.destroyed || Date.now() > end) throw new Error(`client never got ${JSON.stringify(marker)}; got ${JSON.stringify(this.bytes().toString("latin1").slice(-300))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
}

// The client in the sse test: the upstream waits until it got each event.
let sseClient: Collector | null = null;

async function startRawUpstream(): Promise<{ caPem: string; httpsPort: number; httpPort: number; seen: RawSeen[]; close(): void }> {
  const c = await multiSanCert([...NAMES, "localhost"], "raw-upstream-test");
  const seen: RawSeen[] = [];
  const onConn = (s: net.Socket | tls.TLSSocket) => {
    s.on("error", () => {});
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString("latin1");
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      s.off("data", onData);
      const lines = buf.slice(0, end).split("\r\n");
      const path = lines[0]!.split(" ")[1]!;
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      seen.push({ path, headers });
      serve(s, path, headers).catch(() => s.destroy());
    };
    s.on("data", onData);
  };
  const https = tls.createServer({ cert: c.certPem, key: c.keyPem }, onConn);
  const http = net.createServer(onConn);
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  return {
    caPem: c.caPem,
    httpsPort: (https.address() as net.AddressInfo).port,
    httpPort: (http.address() as net.AddressInfo).port,
    seen,
    close() {
      https.close();
      http.close();
    },
  };
}

const chunk = (s: string | Buffer) => {
  const b = typeof s === "string" ? Buffer.from(s) : s;
  return Buffer.concat([Buffer.from(b.length.toString(16) + "\r\n"), b, Buffer.from("\r\n")]);
};

async function serve(s: net.Socket, path: string, h: Record<string, string>): Promise<void> {
  // What the gate injected (auth routes); on a route without auth the
  // upstream "knows" the value from elsewhere.
  const injected = h["authorization"] ?? h["x-api-key"] ?? "";
  const auth = injected.includes(LONG) || injected.includes(SHORT) ? injected : `Bearer ${LONG}`;
  const token = auth.replace(/^Bearer /, "");
  const [p, q] = path.split("?");
  const json = `{"headers":{"authorization":"${auth}"}}\n`;
  switch (p) {
    case "/header":
      s.end(`HTTP/1.1 200 OK\r\nx-echo-authorization: ${auth}\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n`);
      return;
    case "/status":
      s.end(`HTTP/1.1 401 invalid ${auth}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      return;
    case "/early-hint":
      s.end(`HTTP/1.1 103 Early Hints\r\nlink: </s?t=${token}>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n`);
      return;
    case "/cl": {
      // Head and body in separate writes, the body split inside the value.
      s.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n`);
      const cut = json.indexOf(token) + 7;
      await sleep(20);
      s.write(json.slice(0, cut));
      await sleep(20);
      s.end(json.slice(cut));
      return;
    }
    case "/cl-static":
      s.end(`HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(json)}\r\nconnection: close\r\n\r\n${json}`);
      return;
    case "/chunked": {
      const at = Number(q!.split("=")[1]);
      s.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`);
      const text = `value=${token};end`;
      const cut = 6 + at;
      s.write(chunk(text.slice(0, cut)));
      await sleep(5);
      s.end(Buffer.concat([chunk(text.slice(cut)), Buffer.from("0\r\nx-trailer: " + token + "\r\n\r\n")]));
      return;
    }
    case "/sse": {
      const waitClient = async (marker: string) => {
        if (sseClient) await sseClient.waitFor(marker, 4000).catch(() => s.destroy());
      };
      s.write(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`);
      s.write(chunk("data: start\n\n"));
      await waitClient("data: start\n\n");
      s.write(chunk(`data: {"authorization":"${auth}"}\n\n`));
      await waitClient(`"}\n\n`);
      s.write(chunk(`data: again ${token.slice(0, 10)}`));
      await sleep(50);
      s.write(chunk(`${token.slice(10)} tail\n\n`));
      await waitClient("tail\n\n");
      await sleep(30);
      s.end(Buffer.concat([chunk("data: done\n\n"), Buffer.from("0\r\n\r\n")]));
      return;
    }
    case "/close":
      s.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nfirst ${token.slice(0, 5)}`);
      await sleep(20);
      s.end(`${token.slice(5)} last ${token}`);
      return;
    case "/gzip": {
      const body = gzipSync(Buffer.from(json));
      s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`), body]));
      return;
    }
    case "/head-gzip":
      s.end(`HTTP/1.1 304 Not Modified\r\ncontent-encoding: gzip\r\nconnection: close\r\n\r\n`);
      return;
    case "/bigchunked": {
      s.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`);
      for (let i = 0; i < BIG.length; i += 65536) {
        if (!s.write(chunk(BIG.subarray(i, i + 65536)))) await new Promise((r) => s.once("drain", r));
      }
      s.end("0\r\n\r\n");
      return;
    }
  }
  s.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
}

let env: Env;
let raw: Awaited<ReturnType<typeof startRawUpstream>>;

beforeAll(async () => {
  raw = await startRawUpstream();
  env = await startEnv(
    (up) => [
      route("api.test", {
        ports: [up.httpsPort, up.httpPort, raw.httpsPort, raw.httpPort],
        auth: { header: "Authorization", scheme: "Bearer", token_ref: "LONG_TOKEN" },
      }),
      route("key.test", { ports: [raw.httpsPort], auth: { header: "x-api-key", scheme: "", token_ref: "SHORT_TOKEN" } }),
      route("other.test", { ports: [up.httpsPort, raw.httpsPort, raw.httpPort] }),
    ],
    {
      secrets: { credentials: { LONG_TOKEN: LONG, SHORT_TOKEN: SHORT }, secrets: [] },
      placeholders: { LONG_TOKEN: LONG_PH, SHORT_TOKEN: SHORT_PH },
      // The gate trusts the harness upstream's CA; add the raw upstream's.
      extraCa: [raw.caPem],
    },
  );
});
afterAll(async () => {
  await env.close();
  raw.close();
});

// One request through a terminated tunnel; every byte the client got.
async function fetchRaw(host: string, path: string, headers: string, watch?: (c: Collector) => void): Promise<Buffer> {
  const { sock, response } = await connectTunnel(env.gate.port!, `${host}:${raw.httpsPort}`);
  expect(response).toStartWith("HTTP/1.1 200");
  const t = await tlsOver(sock, host, env.bottleCa);
  const c = new Collector(t);
  watch?.(c);
  t.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${raw.httpsPort}\r\n${headers}Accept-Encoding: gzip, br\r\nConnection: close\r\n\r\n`);
  await Promise.race([c.closed, sleep(10_000)]);
  t.destroy();
  return c.bytes();
}

const viaApi = (path: string, watch?: (c: Collector) => void) => fetchRaw("api.test", path, `Authorization: Bearer ${LONG_PH}\r\n`, watch);

function split(b: Buffer): { head: string; body: Buffer } {
  const i = b.indexOf("\r\n\r\n");
  return { head: b.subarray(0, i).toString("latin1"), body: b.subarray(i + 4) };
}

function dechunk(body: Buffer): Buffer {
  const d = new ChunkedDecoder();
  const r = d.push(body);
  expect(r.end).toBe(body.length);
  return Buffer.concat(r.data);
}

function expectNoCredential(b: Buffer | string) {
  const s = typeof b === "string" ? b : b.toString("latin1");
  expect(s).not.toContain(LONG);
  expect(s).not.toContain(SHORT);
}

function expectAuditClean() {
  for (const l of auditLines(env)) expectNoCredential(JSON.stringify(l));
}

const lastAudit = (path: string) => auditLines(env).findLast((l) => l.path === path)!;

describe("gate: credentials in responses on auth routes", () => {
  test("the upstream got the real value and a request for an uncompressed response", async () => {
    await viaApi("/cl");
    const s = raw.seen.at(-1)!;
    expect(s.headers.authorization).toBe(`Bearer ${LONG}`);
    expect(s.headers["accept-encoding"]).toBe("identity");
  });

  test("(a) echoed in a response header, the status line or an early hint: 502, nothing of the response forwarded", async () => {
    for (const path of ["/header", "/status", "/early-hint"]) {
      const b = await viaApi(path);
      expectNoCredential(b);
      const { head, body } = split(b);
      expect(head).toStartWith("HTTP/1.1 502");
      expect(body.toString()).toBe("blocked: upstream response contained the credential for LONG_TOKEN\n");
      expect(lastAudit(path)).toMatchObject({ decision: "deny", layer: "dlp", status: 502, reason: "upstream response contained the credential for LONG_TOKEN" });
      // A rule refused it: `ls` counts it as blocked (a 502 the gate gives
      // for an upstream it could not reach is not a block; this one is).
      expect({ path, counted: countAs(lastAudit(path)) }).toEqual({ path, counted: "blocked" });
    }
    expectAuditClean();
  });

  test("(b) echoed in a Content-Length body (split inside the value): the client gets the placeholder, same length", async () => {
    const b = await viaApi("/cl");
    expectNoCredential(b);
    const { head, body } = split(b);
    expect(head).toStartWith("HTTP/1.1 200");
    const want = `{"headers":{"authorization":"Bearer ${LONG_PH}"}}\n`;
    expect(head).toContain(`content-length: ${Buffer.byteLength(want)}`);
    expect(body.toString()).toBe(want);
    expect(lastAudit("/cl")).toMatchObject({ decision: "allow", layer: "dlp", status: 200, reason: "credential LONG_TOKEN in response replaced by placeholder" });
    expectAuditClean();
  });

  test("plain http on the auth route is refused before anything reaches the upstream", async () => {
    const before = raw.seen.length;
    const s = net.connect(env.gate.port!, "127.0.0.1");
    const c = new Collector(s);
    await new Promise((r) => s.once("connect", r));
    s.write(`GET http://api.test:${raw.httpPort}/cl HTTP/1.1\r\nHost: api.test:${raw.httpPort}\r\nAuthorization: Bearer ${LONG_PH}\r\nConnection: close\r\n\r\n`);
    await c.closed;
    expectNoCredential(c.bytes());
    expect(split(c.bytes()).head).toStartWith("HTTP/1.1 403");
    expect(raw.seen.length).toBe(before);
  });

  test("(c) a short value split across two chunks at every offset: placeholder, never the value (trailers dropped)", async () => {
    for (let at = 1; at < SHORT.length; at++) {
      const b = await fetchRaw("key.test", `/chunked?at=${at}`, `x-api-key: ${SHORT_PH}\r\n`);
      expectNoCredential(b);
      const { head, body } = split(b);
      expect(head).toStartWith("HTTP/1.1 200");
      expect(dechunk(body).toString()).toBe(`value=${SHORT_PH};end`);
    }
    expect(raw.seen.at(-1)!.headers["x-api-key"]).toBe(SHORT);
    expect(lastAudit("/chunked")).toMatchObject({ decision: "allow", layer: "dlp", reason: "credential SHORT_TOKEN in response replaced by placeholder" });
    expectAuditClean();
  });

  test("(d) SSE: each event reaches the client before the upstream sends the next; the value in events is replaced", async () => {
    let client: Collector | null = null;
    const b = await viaApi("/sse", (c) => {
      client = c;
      sseClient = c;
    });
    sseClient = null;
    expect(client).not.toBeNull();
    expectNoCredential(b);
    const text = dechunk(split(b).body).toString();
    // The upstream only sent "done" after the client had every earlier
    // event (it waits for them): all four arrived, in order.
    expect(text).toBe(`data: start\n\ndata: {"authorization":"Bearer ${LONG_PH}"}\n\ndata: again ${LONG_PH} tail\n\ndata: done\n\n`);
    expectAuditClean();
  });

  test("read-until-close body: replaced, the value split across writes", async () => {
    const b = await viaApi("/close");
    expectNoCredential(b);
    expect(split(b).body.toString()).toBe(`first ${LONG_PH} last ${LONG_PH}`);
  });

  test("a compressed body despite Accept-Encoding: identity is refused; a bodiless one is not", async () => {
    const b = await viaApi("/gzip");
    const { head, body } = split(b);
    expect(head).toStartWith("HTTP/1.1 502");
    expect(body.toString()).toBe("blocked: compressed response on a credential route\n");
    expect(lastAudit("/gzip")).toMatchObject({ decision: "deny", layer: "dlp", status: 502 });
    expect(split(await viaApi("/head-gzip")).head).toStartWith("HTTP/1.1 304");
  });

  test("a normal response on an auth route streams through byte-exact (12 MiB, content-length and chunked)", async () => {
    const get = async (url: string) => {
      const p = Bun.spawn(["curl", "-sS", "--proxy", env.proxy, "--cacert", env.bottleCa, "-H", `Authorization: Bearer ${LONG_PH}`, url], { stdout: "pipe" });
      const body = new Uint8Array(await new Response(p.stdout).arrayBuffer());
      await p.exited;
      return sha(body);
    };
    expect(await get(`https://api.test:${env.up.httpsPort}/big`)).toBe(BIG_SHA);
    expect(await get(`https://api.test:${raw.httpsPort}/bigchunked`)).toBe(BIG_SHA);
    expect(lastAudit("/bigchunked")).toMatchObject({ decision: "allow", layer: "policy", reason: null });
    // A small JSON answer without the value is untouched too.
    const r = await curl(env, [`https://api.test:${env.up.httpsPort}/small`, "-H", "X-Probe: 1"]);
    expect(JSON.parse(r.body).headers["x-probe"]).toBe("1");
  });

  test("a route without auth is not scanned: the response passes unchanged, Accept-Encoding untouched", async () => {
    const b = await fetchRaw("other.test", "/cl-static", "");
    expect(raw.seen.at(-1)!.headers["accept-encoding"]).toBe("gzip, br");
    expect(raw.seen.at(-1)!.headers.authorization).toBeUndefined();
    expect(split(b).body.toString()).toBe(`{"headers":{"authorization":"Bearer ${LONG}"}}\n`);
    expect(lastAudit("/cl-static")).toMatchObject({ decision: "allow", layer: "policy" });
  });
});
