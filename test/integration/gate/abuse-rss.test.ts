import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { policyOf, route, startUpstreams, type Upstreams } from "./harness.ts";
import { startGateProcess, type GateProcess } from "./process.ts";

// Bounded under abuse: the real gate process, 16 connections from the
// bottle's side doing what costs a gate memory (bodies of one-byte chunks,
// chunks with maximal extension lines, heads of many tiny headers, bodies
// that stall half-way, slow drips), while a clean request must still get
// through. The gate's resident memory is read from /proc/<pid>/status the
// whole time and must stay under 256 MiB.

const LIMIT_KIB = 256 * 1024;
const ABUSE_MS = 20_000;

let dir: string;
let up: Upstreams;
let gate: GateProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cb-gate-rss-"));
  up = await startUpstreams(dir);
  gate = await startGateProcess(join(dir, "state"), { ...policyOf([route("up.test", { ports: [up.httpPort] })]), slug: "rss-abcde" }, {
    credentials: {},
    secrets: [{ name: "S", value: "rss-secret-Qw8Zr3Lp5Nt7Kv2Xy" }],
    upstream: { hosts: { "up.test": "127.0.0.1" }, ca: readFileSync(up.caPath, "utf8") },
  });
});
afterAll(async () => {
  await gate?.stop();
  up?.close();
  rmSync(dir, { recursive: true, force: true });
});

const target = () => `http://up.test:${up.httpPort}`;
const postHead = (framing: string) => `POST ${target()}/sink HTTP/1.1\r\nHost: up.test:${up.httpPort}\r\n${framing}\r\n`;

// One abuser: connects, writes what `next()` returns (null: stop writing and
// just hold the connection), reconnects when the gate closes it, until
// `stop`. Counts the bytes it got onto the wire.
function abuser(first: string, next: () => string | null, pauseMs = 0) {
  let stop = false;
  let written = 0;
  let connections = 0;
  const run = async () => {
    while (!stop) {
      connections++;
      const s = net.connect(gate.port, "127.0.0.1");
      s.on("error", () => {});
      s.on("data", () => {});
      let closed = false;
      s.once("close", () => (closed = true));
      await new Promise<void>((r) => {
        s.once("connect", () => r());
        s.once("close", () => r());
      });
      s.write(first);
      while (!stop && !closed) {
        const data = next();
        if (data === null) {
          await Bun.sleep(100);
          continue;
        }
        written += data.length;
        if (!s.write(data)) {
          await new Promise<void>((r) => {
            const done = () => {
              s.off("drain", done);
              s.off("close", done);
              r();
            };
            s.on("drain", done);
            s.on("close", done);
          });
        }
        if (pauseMs) await Bun.sleep(pauseMs);
      }
      s.destroy();
      if (!stop) await Bun.sleep(20);
    }
  };
  const done = run();
  return {
    async end() {
      stop = true;
      await done;
      return { written, connections };
    },
  };
}

async function cleanRequest(): Promise<boolean> {
  const p = Bun.spawn(
    ["curl", "-sS", "--max-time", "30", "--proxy", `http://127.0.0.1:${gate.port}`, "-d", "hello clean", `${target()}/clean`],
    { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
  );
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out.includes('"path":"/clean"') && out.includes('"bodyLength":11');
}

test("16 abusive connections keep the gate under 256 MiB; clean requests get through during and after", async () => {
  expect(await cleanRequest()).toBe(true);
  const idle = gate.rssKiB()!;
  let peak = idle;
  let over = false;
  const sampler = setInterval(() => {
    const r = gate.rssKiB();
    if (r === null) return;
    peak = Math.max(peak, r);
    if (r > LIMIT_KIB) over = true;
  }, 50);

  const oneByte = "1\r\nX\r\n".repeat(10_000);
  const bigExt = ("1;" + "e".repeat(4000) + "\r\nX\r\n").repeat(16);
  let stalled = 0;
  const abusers = [
    // Bodies of one-byte chunks, as fast as the gate takes them.
    ...Array.from({ length: 5 }, () => abuser(postHead("Transfer-Encoding: chunked\r\n"), () => oneByte)),
    // One-byte chunks whose extension lines are as long as the gate allows.
    ...Array.from({ length: 3 }, () => abuser(postHead("Transfer-Encoding: chunked\r\n"), () => bigExt)),
    // Heads of tiny headers that never end (431, reconnect).
    ...Array.from({ length: 2 }, () => abuser(`GET ${target()}/h HTTP/1.1\r\nHost: up.test:${up.httpPort}\r\n`, () => "a:b\r\n".repeat(200))),
    // A large declared body that stops after 6 MiB and then holds the
    // connection open.
    ...Array.from({ length: 3 }, () => {
      let sent = 0;
      const piece = "s".repeat(64 * 1024);
      return abuser(postHead("Content-Length: 100000000\r\n"), () => {
        if (sent >= 6 * 1024 * 1024) {
          stalled++;
          return null;
        }
        sent += piece.length;
        return piece;
      });
    }),
    // Slow drips: a byte of a chunked body every 200 ms.
    ...Array.from({ length: 3 }, () => abuser(postHead("Transfer-Encoding: chunked\r\n"), () => "1\r\nZ\r\n", 200)),
  ];
  expect(abusers.length).toBe(16);

  const during: boolean[] = [];
  const until = Date.now() + ABUSE_MS;
  while (Date.now() < until && !over) {
    during.push(await cleanRequest());
    await Bun.sleep(1000);
  }
  const stats = await Promise.all(abusers.map((a) => a.end()));
  clearInterval(sampler);
  const after = await cleanRequest();
  const peakMiB = Math.round(peak / 1024);
  console.log(`gate rss: idle ${Math.round(idle / 1024)} MiB, peak ${peakMiB} MiB; abusers wrote ${Math.round(stats.reduce((n, s) => n + s.written, 0) / 1048576)} MiB over ${stats.reduce((n, s) => n + s.connections, 0)} connections`);

  // The abuse ran: the one-byte-chunk abusers got real volume onto the wire,
  // and the stalling ones reached their stall.
  expect(stats.slice(0, 5).every((s) => s.written > 4 * 1024 * 1024)).toBe(true);
  expect(stalled).toBeGreaterThan(0);
  expect(peak).toBeLessThan(LIMIT_KIB);
  expect(during.length).toBeGreaterThan(3);
  expect(during.every(Boolean)).toBe(true);
  expect(after).toBe(true);
}, 120_000);
