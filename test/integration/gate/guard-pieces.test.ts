import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { makePlaceholder } from "../../../src/gate/credentials.ts";
import { reassembleSse } from "../../../src/selftest/judges.ts";
import { auditLines, connectTunnel, route, startEnv, tlsOver, type Env } from "./harness.ts";
import { Received, startRawUpstream, type RawUpstream } from "./raw-upstream.ts";

// The response guard against a credential echoed in pieces. A streaming API
// on a credential route echoes the request's Authorization header back the
// way model APIs stream text: split across SSE events (two text deltas),
// across `data:` lines, across TCP chunks at any offset, JSON-escaped
// (\uXXXX, \/). The agent reassembles the deltas; so does the guard. Real
// sockets and TLS; the raw client records every byte it got.

const LONG = "sk-ant-api03-" + "Hq4Lr8Zt2Wm6Xc0Vn5Bk9Jd3Pg7Fs1Ay".repeat(3) + "-UiOpAs";
const LONG_PH = makePlaceholder(LONG);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const u4 = (s: string) => [...s].map((c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("");
const delta = (text: string) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${text}"}}\n\n`;
const SSE_HEAD = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;

// Stream shapes, each a list of SSE pieces the upstream writes one by one
// (with a pause, so each is its own TCP segment), built around the value.
function shapes(v: string): Record<string, string[]> {
  const a = v.slice(0, 20);
  const b = v.slice(20);
  return {
    "two text deltas": [delta("Here is your header: " + a), delta(b + " and more text")],
    "a delta per character": [...v].map((c) => delta(c)),
    "JSON \\u escapes": [delta(u4(a)), delta(u4(b))],
    "escaped first letter": [delta("\\u0073" + v.slice(1))],
    // A UTF-8 byte order mark before the first event: an SSE client's UTF-8
    // decoding strips it (WHATWG: "one leading U+FEFF"), so the first line
    // is still a data line for the agent.
    "a byte order mark before the stream": ["\ufeff" + delta("Here is your header: " + a).replace(/^event: .*\n/, ""), delta(b + " and more text")],
    "data: lines of one plain-text event": [`data: ${a}\n`, `data: ${b}\n\n`],
    "plain-text events": [`data: ${a}\n\n`, `data: ${b}\n\n`],
    "OpenAI-style choices deltas": [
      `data: {"choices":[{"index":0,"delta":{"content":"${a}"}}]}\n\n`,
      `data: {"choices":[{"index":0,"delta":{"content":"${b}"}}]}\n\n`,
    ],
  };
}

let env: Env;
let raw: RawUpstream;
// The ordinary stream's upstream sends its next event only once the client
// has the one before (so a held-back event would stall the stream).
let clientHasFirst: Promise<void> = Promise.resolve();

beforeAll(async () => {
  raw = await startRawUpstream(async (req, s) => {
    const auth = (req.headers["authorization"] ?? "").replace(/^Bearer /, "");
    if (req.path.startsWith("/split")) {
      // One event, the chunk boundary at byte `at` of the whole body.
      const at = Number(new URL("http://x" + req.path).searchParams.get("at"));
      const body = delta("echo " + auth.slice(0, 30)) + delta(auth.slice(30));
      s.write(SSE_HEAD);
      s.write(chunk(body.slice(0, at)));
      await sleep(5);
      s.write(chunk(body.slice(at)) + "0\r\n\r\n");
      return;
    }
    if (req.path === "/ordinary") {
      s.write(SSE_HEAD + chunk(delta("tokens like sk-")));
      await Promise.race([clientHasFirst, sleep(3000)]);
      s.write(chunk(delta("ant- are placeholders")) + chunk(delta("done")) + "0\r\n\r\n");
      return;
    }
    const pieces = shapes(auth)[decodeURIComponent(req.path.slice(1))]!;
    s.write(SSE_HEAD);
    for (const p of pieces) {
      s.write(chunk(p));
      await sleep(3);
    }
    s.write("0\r\n\r\n");
  });
  env = await startEnv(
    () => [route("api.test", { ports: [raw.httpsPort], auth: { header: "Authorization", scheme: "Bearer", token_ref: "LONG_TOKEN" } })],
    { secrets: { credentials: { LONG_TOKEN: LONG }, secrets: [] }, placeholders: { LONG_TOKEN: LONG_PH }, extraCa: [raw.caPem] },
  );
});
afterAll(async () => {
  await env.close();
  raw.close();
});

async function fetchStream(path: string): Promise<{ text: string; closedEarly: boolean }> {
  const { sock } = await connectTunnel(env.gate.port!, `api.test:${raw.httpsPort}`);
  const t = await tlsOver(sock, "api.test", env.bottleCa);
  const c = new Received(t);
  t.write(`GET ${path} HTTP/1.1\r\nHost: api.test:${raw.httpsPort}\r\nAuthorization: Bearer ${LONG_PH}\r\nConnection: close\r\n\r\n`);
  const text = await c.waitFor("0\r\n\r\n", 5000);
  t.destroy();
  return { text, closedEarly: !text.endsWith("0\r\n\r\n") };
}

// What an agent would reassemble: the text deltas joined (the escape
// suite's judge does the same, src/selftest/judges.ts).
// The bytes (read as latin1) decoded as UTF-8 as a client's TextDecoder
// does, a leading byte order mark dropped.
const reassembled = (http: string) =>
  reassembleSse(
    new TextDecoder().decode(
      Buffer.from(http.slice(http.indexOf("\r\n\r\n") + 4).replace(/\r\n[0-9a-f]+\r\n/g, "").replace(/^[0-9a-f]+\r\n/, ""), "latin1"),
    ),
  );

describe("gate: a credential echoed in pieces never reaches the bottle", () => {
  for (const name of Object.keys(shapes(LONG))) {
    test(name, async () => {
      const { text, closedEarly } = await fetchStream("/" + encodeURIComponent(name));
      // Neither in the bytes nor in what the agent would put together.
      expect(text).not.toContain(LONG);
      const whole = reassembled(text);
      expect(whole).not.toContain(LONG);
      expect(whole.replace(/\\u[0-9a-f]{4}/g, "")).not.toContain(LONG.slice(13));
      if (!closedEarly) {
        // Replaced in place: the agent sees the placeholder it sent.
        expect(whole).toContain(LONG_PH);
      }
      expect(raw.seen.at(-1)!.headers.authorization).toBe(`Bearer ${LONG}`);
    });
  }

  test("split across two TCP chunks at every offset of the body", async () => {
    const probe = delta("echo " + LONG.slice(0, 30)) + delta(LONG.slice(30));
    for (let at = 1; at < probe.length; at += 3) {
      const { text } = await fetchStream(`/split?at=${at}`);
      expect(text).not.toContain(LONG);
      expect(reassembled(text)).not.toContain(LONG);
    }
  });

  test("audited as dlp, naming the token_ref only", () => {
    const lines = auditLines(env).filter((l) => l.layer === "dlp");
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(String(l.reason)).toMatch(/credential LONG_TOKEN/);
    expect(JSON.stringify(auditLines(env))).not.toContain(LONG);
  });

  test("an event ending in the credential's public prefix (the placeholder's too) is not held back", async () => {
    let saw: () => void = () => {};
    clientHasFirst = new Promise((r) => (saw = r));
    const { sock } = await connectTunnel(env.gate.port!, `api.test:${raw.httpsPort}`);
    const t = await tlsOver(sock, "api.test", env.bottleCa);
    const c = new Received(t);
    t.write(`GET /ordinary HTTP/1.1\r\nHost: api.test:${raw.httpsPort}\r\nAuthorization: Bearer ${LONG_PH}\r\nConnection: close\r\n\r\n`);
    // The first event arrives while the upstream still waits for us.
    const first = await c.waitFor("sk-", 2500);
    expect(first).toContain("tokens like sk-");
    saw();
    const text = await c.waitFor("0\r\n\r\n", 5000);
    t.destroy();
    expect(reassembled(text)).toBe("tokens like sk-ant- are placeholdersdone");
  });
});
