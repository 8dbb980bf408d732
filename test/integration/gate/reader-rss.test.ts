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
// without limit (1024 of them: ~768 MiB). Here CONNS connections each send a
// request to an upstream that never answers, then MiB of pipelined bytes
// as fast as the gate takes them, and hold on; the real gate process's
// resident memory is read from /proc the whole time, and a clean request
// must get through during and after.

const CONNS = 300;
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
// pipelined bytes, written as fast as the gate reads them. Resolves with
// how many bytes the gate took off the wire (what the kernel accepted
// from us, minus what is still queued on our side).
function pipelined(mib: number): { done: Promise<number>; close(): void } {
  const s = net.connect(gate.port, "127.0.0.1");
  s.on("error", () => {});
  s.on("data", () => {});
  const done = new Promise<number>((resolve) => {
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
      // What the gate took: all written minus what is still queued here.
      setTimeout(() => resolve(s.bytesWritten - s.writableLength), 4000);
    });
    s.once("close", () => resolve(0));
  });
  return { done, close: () => s.destroy() };
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
  const during: boolean[] = [];
  for (let i = 0; i < 3; i++) {
    during.push(await cleanRequest());
    await Bun.sleep(500);
  }
  const taken = await Promise.all(conns.map((c) => c.done));
  // Let whatever the gate still reads arrive, then sample a while longer.
  await Bun.sleep(2000);
  during.push(await cleanRequest());
  clearInterval(sampler);
  const queuedMiB = taken.reduce((a, b) => a + b, 0) / 1048576;
  for (const c of conns) c.close();
  const after = await cleanRequest();
  console.log(
    `gate rss: idle ${Math.round(idle / 1024)} MiB, peak ${Math.round(peak / 1024)} MiB; ` +
      `${CONNS} connections, the gate took ${queuedMiB.toFixed(0)} MiB of pipelined bytes off the wire`,
  );

  // The attempt ran: every request reached the stalling upstream, and the
  // gate took bytes behind them off the wire (without a bound it takes
  // ~768 KiB per connection).
  expect(stalled).toBe(CONNS);
  expect(taken.every((n) => n > 0)).toBe(true);
  expect(peak).toBeLessThan(LIMIT_KIB);
  expect(during.every(Boolean)).toBe(true);
  expect(after).toBe(true);
}, 120_000);
