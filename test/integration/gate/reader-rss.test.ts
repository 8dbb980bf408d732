import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { policyOf, route, startUpstreams, type Upstreams } from "./harness.ts";
import { startGateProcess, type GateProcess } from "./process.ts";

// The gate's socket read buffers are bounded globally, not only per
// connection (io.ts). A connection whose request waits for its upstream is
// not read by its handler meanwhile; what the client sends behind that
// request (pipelined bytes) queues in the gate's reader for that socket, up
// to its high-water mark plus the one read that crossed it (Bun reads up to
// 512 KiB at a time), about 768 KiB. Many such connections used to add up
// without limit. Here CONNS connections each send a request to an upstream
// that never answers, then 4 MiB of pipelined bytes as fast as the gate
// takes them, and hold on; the real gate process's resident memory is read
// from /proc the whole time, and clean requests must get through during
// and after. Measured: 285-330 MiB peak before the budget, 185-196 after
// (Bun's own one read per paused socket is most of what is left).

const CONNS = 250;
const LIMIT_KIB = 256 * 1024;

let dir: string;
let up: Upstreams;
let gate: GateProcess;
// An upstream that reads request heads and never answers.
let stall: net.Server;
let stallPort = 0;
let stalled = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cb-gate-reader-rss-"));
  up = await startUpstreams(dir);
  stall = net.createServer((s) => {
    s.on("error", () => {});
    s.once("data", () => stalled++);
  });
  await new Promise<void>((r) => stall.listen(0, "127.0.0.1", () => r()));
  stallPort = (stall.address() as net.AddressInfo).port;
  gate = await startGateProcess(
    join(dir, "state"),
    { ...policyOf([route("up.test", { ports: [up.httpPort] }), route("stall.test", { ports: [stallPort] })]), slug: "rss-rdbuf" },
    {
      credentials: {},
      secrets: [],
      upstream: { hosts: { "up.test": "127.0.0.1", "stall.test": "127.0.0.1" }, ca: readFileSync(up.caPath, "utf8") },
    },
  );
});
afterAll(async () => {
  await gate?.stop();
  stall?.close();
  up?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cleanRequest(): Promise<boolean> {
  const p = Bun.spawn(
    ["curl", "-sS", "--max-time", "30", "--proxy", `http://127.0.0.1:${gate.port}`, "-d", "hello clean", `http://up.test:${up.httpPort}/clean`],
    { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
  );
  const out = await new Response(p.stdout).text();
  await p.exited;
  return out.includes('"path":"/clean"') && out.includes('"bodyLength":11');
}

// One connection: a request the upstream never answers, then `mib` MiB of
// pipelined bytes, written as fast as the gate (or the kernel's buffers)
// take them. Resolves once the request and the first bytes are out.
function pipelined(mib: number): { sent: Promise<void>; close(): void } {
  const s = net.connect(gate.port, "127.0.0.1");
  s.on("error", () => {});
  s.on("data", () => {});
  const sent = new Promise<void>((resolve) => {
    s.once("connect", () => {
      s.write(`GET http://stall.test:${stallPort}/wait HTTP/1.1\r\nHost: stall.test:${stallPort}\r\n\r\n`);
      const piece = Buffer.alloc(64 * 1024, 0x61);
      let left = (mib * 1024 * 1024) / piece.length;
      const more = () => {
        while (left > 0) {
          left--;
          if (!s.write(piece)) return void s.once("drain", more);
        }
      };
      more();
      resolve();
    });
    s.once("close", () => resolve());
  });
  return { sent, close: () => s.destroy() };
}

test(`${CONNS} connections with bytes queued behind an unanswered request keep the gate under 256 MiB; clean requests get through`, async () => {
  expect(await cleanRequest()).toBe(true);
  const idle = gate.rssKiB()!;
  let peak = idle;
  const sampler = setInterval(() => {
    const r = gate.rssKiB();
    if (r !== null) peak = Math.max(peak, r);
  }, 50);

  const conns = Array.from({ length: CONNS }, () => pipelined(4));
  await Promise.all(conns.map((c) => c.sent));
  // The gate reads what it will while clean requests go through.
  const during: boolean[] = [];
  for (let i = 0; i < 4; i++) {
    during.push(await cleanRequest());
    await Bun.sleep(500);
  }
  clearInterval(sampler);
  for (const c of conns) c.close();
  const after = await cleanRequest();
  console.log(`gate rss: idle ${Math.round(idle / 1024)} MiB, peak ${Math.round(peak / 1024)} MiB with ${CONNS} connections of pipelined bytes`);

  // The attempt ran: every request reached the stalling upstream (so every
  // connection's handler was busy waiting for it while its client wrote).
  expect(stalled).toBe(CONNS);
  expect(peak).toBeLessThan(LIMIT_KIB);
  expect(during.every(Boolean)).toBe(true);
  expect(after).toBe(true);
}, 120_000);
