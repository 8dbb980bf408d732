import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { makePlaceholder } from "../../../src/gate/credentials.ts";
import { connectTunnel, route, startEnv, tlsOver, type Env } from "./harness.ts";
import { Received, respond, startRawUpstream, type RawUpstream } from "./raw-upstream.ts";

// What the bottle never asked for never reaches it: an upstream that writes
// a second response nobody asked for (late, or in the same write), bytes
// before the request on a fresh connection, a storm of interim responses,
// or a response later on another route of a host that got a credential.
// Real sockets throughout: a hostile raw upstream, the gate, raw clients
// that record every byte they get.

const LONG = "sk-ant-api03-" + "Hq4Lr8Zt2Wm6Xc0Vn5Bk9Jd3Pg7Fs1Ay".repeat(3) + "-UiOpAs";
const LONG_PH = makePlaceholder(LONG);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let env: Env;
let raw: RawUpstream;
let remembered = "";
// Connections that greet before any request (a response to nothing).
const greet = new Set<number>();
let greetNext = false;

beforeAll(async () => {
  raw = await startRawUpstream(async (req, s) => {
    const auth = req.headers["authorization"] ?? "none";
    switch (req.path) {
      case "/late-extra":
        s.write(respond("first"));
        await sleep(80);
        s.write(respond(`INJECTED ${auth}`));
        return;
      case "/extra-now":
        s.write(respond("hello") + respond(`INJECTED ${auth}`));
        return;
      case "/head":
        s.write(`HTTP/1.1 200 OK\r\ncontent-length: 200\r\n\r\n`);
        await sleep(80);
        s.write(respond(`INJECTED ${auth}`));
        return;
      case "/remember":
        remembered = auth;
        s.write(respond("noted"));
        return;
      case "/replay":
        s.write(respond(`replay ${remembered}`));
        return;
      case "/storm":
        s.write("HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n".repeat(2000) + respond("after the storm"));
        return;
      case "/post":
        s.write(respond(`got ${req.body.length} on conn=${req.conn}`));
        return;
      default:
        s.write(respond(`answer conn=${req.conn} n=${req.n}`));
    }
  });
  raw.onConnect = (s, conn) => {
    if (!greetNext) return;
    greetNext = false;
    greet.add(conn);
    s.write(respond("INJECTED greeting"));
  };
  env = await startEnv(
    () => [
      route("up.test", { ports: [raw.httpPort] }),
      // Its own pool key: the POST below must dial a fresh connection.
      route("greet.test", { ports: [raw.httpPort] }),
      route("api.test", {
        ports: [raw.httpsPort],
        paths: ["/late-extra", "/head", "/remember", "/extra-now"],
        auth: { header: "Authorization", scheme: "Bearer", token_ref: "LONG_TOKEN" },
      }),
      route("api.test", { ports: [raw.httpsPort] }),
    ],
    {
      secrets: { credentials: { LONG_TOKEN: LONG }, secrets: [] },
      placeholders: { LONG_TOKEN: LONG_PH },
      extraCa: [raw.caPem],
    },
  );
});
afterAll(async () => {
  await env.close();
  raw.close();
});

async function plainClient(): Promise<{ sock: net.Socket; got: Received }> {
  const sock = net.connect(env.gate.port!, "127.0.0.1");
  await new Promise<void>((r) => sock.once("connect", () => r()));
  return { sock, got: new Received(sock) };
}

async function tlsClient(host: string): Promise<{ sock: net.Socket; got: Received }> {
  const { sock, response } = await connectTunnel(env.gate.port!, `${host}:${raw.httpsPort}`);
  expect(response).toStartWith("HTTP/1.1 200");
  const t = await tlsOver(sock, host, env.bottleCa);
  return { sock: t, got: new Received(t) };
}

const plainGet = (path: string, extra = "") =>
  `GET http://up.test:${raw.httpPort}${path} HTTP/1.1\r\nHost: up.test:${raw.httpPort}\r\n${extra}\r\n`;
// With the placeholder on the auth route's paths; without a credential on
// the host's other route (DLP refuses a placeholder there).
const tlsReq = (method: string, path: string, auth = true) =>
  `${method} ${path} HTTP/1.1\r\nHost: api.test:${raw.httpsPort}\r\n${auth ? `Authorization: Bearer ${LONG_PH}\r\n` : ""}\r\n`;

describe("gate: a response is relayed only as the answer to a request the bottle sent", () => {
  test("a second response the upstream sends after the first is never the answer to the next request", async () => {
    for (const path of ["/late-extra", "/extra-now"]) {
      const c = await plainClient();
      c.sock.write(plainGet(path));
      await c.got.waitFor(path === "/late-extra" ? "first" : "hello");
      await sleep(300); // the extra response has arrived at the gate by now
      const before = raw.seen.length;
      c.sock.write(plainGet("/next"));
      const text = await c.got.waitFor("conn=", 3000);
      c.sock.destroy();
      expect(text).not.toContain("INJECTED");
      // The next request was answered by the upstream, on a new connection.
      const next = raw.seen.slice(before).find((r) => r.path === "/next")!;
      expect(next).toBeDefined();
      expect(text).toContain(`answer conn=${next.conn} n=1`);
    }
  });

  test("bytes that reach a pooled connection while it idles are discarded with it", async () => {
    // (Held on main already: the pool checks for unread bytes when taking.)
    const a = await plainClient();
    a.sock.write(plainGet("/late-extra", "Connection: close\r\n"));
    await a.got.waitFor("first");
    await sleep(300);
    const b = await plainClient();
    b.sock.write(plainGet("/next"));
    const text = await b.got.waitFor("conn=", 3000);
    b.sock.destroy();
    a.sock.destroy();
    expect(text).not.toContain("INJECTED");
    expect(text).toMatch(/answer conn=\d+ n=1/);
  });

  test("bytes a fresh upstream connection sends before the request (while the body is scanned) are never the answer", async () => {
    greetNext = true;
    const c = await plainClient();
    c.sock.write(`POST http://greet.test:${raw.httpPort}/post HTTP/1.1\r\nHost: greet.test:${raw.httpPort}\r\nContent-Length: 10\r\n\r\n`);
    await sleep(400); // the gate has dialled and the greeting is in
    c.sock.write("0123456789");
    const text = await c.got.waitFor("HTTP/1.1", 3000);
    await c.got.waitFor("conn=", 1000);
    c.sock.destroy();
    expect(greet.size).toBe(1);
    expect(text).not.toContain("INJECTED");
    expect(text).toContain("got 10 on conn=");
    expect(text).not.toContain(`got 10 on conn=${[...greet][0]}\n`);
  });

  test("a storm of interim responses is cut, not relayed", async () => {
    const c = await plainClient();
    c.sock.write(plainGet("/storm"));
    const text = await c.got.waitFor("HTTP/1.1 502", 5000);
    c.sock.destroy();
    const interim = text.split("103 Early Hints").length - 1;
    expect(interim).toBeLessThanOrEqual(16);
    expect(text).toContain("HTTP/1.1 502");
    expect(text).not.toContain("after the storm");
  });
});

describe("gate: every response from a host that got a credential goes through the guard", () => {
  test("an unasked response after an authenticated one never reaches the bottle on a later request", async () => {
    for (const [method, path] of [
      ["GET", "/late-extra"],
      ["HEAD", "/head"],
      ["GET", "/extra-now"],
    ] as const) {
      const c = await tlsClient("api.test");
      c.sock.write(tlsReq(method, path));
      await c.got.waitFor("\r\n\r\n");
      await sleep(300);
      // A route of the same host without auth, on the same tunnel.
      c.sock.write(tlsReq("GET", "/public", false));
      const text = await c.got.waitFor("conn=", 3000);
      c.sock.destroy();
      expect(text).not.toContain(LONG);
      expect(text).not.toContain("INJECTED");
      expect(text).toMatch(/answer conn=\d+ n=1/);
    }
  });

  test("a credential the host learnt earlier is replaced on its routes without auth too", async () => {
    const a = await tlsClient("api.test");
    a.sock.write(tlsReq("GET", "/remember"));
    await a.got.waitFor("noted");
    a.sock.destroy();
    expect(remembered).toBe(`Bearer ${LONG}`);
    const b = await tlsClient("api.test");
    b.sock.write(tlsReq("GET", "/replay", false));
    const text = await b.got.waitFor("replay", 3000);
    await sleep(100);
    b.sock.destroy();
    expect(text).not.toContain(LONG);
    expect(b.got.text()).toContain(`replay Bearer ${LONG_PH}`);
  });
});
