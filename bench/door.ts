#!/usr/bin/env bun
// What the bridge door costs against the unix door, on the same engine, in
// the same run, interleaved (the order alternates every round):
//   up:         `claude-bottle up -d --yes` until `exec <slug> -- true`
//               succeeds (the bridge door adds a volume, a bridge container
//               and provisioning's trust step);
//   request:    N requests in a row from inside the bottle (one curl each,
//               through the relay, the door and the gate) to an upstream on
//               the host's loopback, timed inside the bottle;
//   throughput: one 64 MiB download through the same path, timed inside;
//   down:       `claude-bottle down <slug>`.
// The ratios are the medians of the rounds' bridge/unix ratios. The unix door
// is the floor here: the bridge door is the same path with one more hop
// (socket -> bridge container -> TCP door).
//
//   bun run bench:door [-- --quick] [-- --runs N]
//
// Runs the compiled binary against the local engine with the offline test
// base image (CLAUDE_BOTTLE_BASE_IMAGE, default claude-bottle-test/base:
// bookworm), no Claude Code in the image, a throwaway CLAUDE_BOTTLE_HOME. The
// last line is machine-readable:
//   door: up_bridge_vs_unix=<x> request_bridge_vs_unix=<y> throughput_bridge_vs_unix=<z> down_bridge_vs_unix=<w>
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, ensureDist, machineLine, median } from "./lib/dist.ts";

const quick = process.argv.includes("--quick");
const runsArg = process.argv.indexOf("--runs");
const runs = Math.max(3, Number(runsArg >= 0 ? process.argv[runsArg + 1] : quick ? 3 : 5) || 0);
const REQUESTS = quick ? 20 : 50;
const BIG = 64 * 1024 * 1024;
const BASE = process.env.CLAUDE_BOTTLE_BASE_IMAGE || "claude-bottle-test/base:bookworm";
type Door = "unix" | "bridge";

ensureDist();

const home = mkdtempSync(join(tmpdir(), "cb-bench-door-"));
const work = mkdtempSync(join(tmpdir(), "cb-bench-door-work-"));
const big = new Uint8Array(BIG).fill(0x61);
const upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (new URL(req.url).pathname === "/big" ? new Response(big) : new Response("ok\n")) });
mkdirSync(join(home, "bottles"), { recursive: true });
mkdirSync(join(home, "agents"), { recursive: true });
writeFileSync(join(home, "bottles", "bench.md"), `---\negress:\n  - host: 127.0.0.1\n    ports: [${upstream.port}]\n    allow_private: true\n    dlp: off\n---\n`);
writeFileSync(join(home, "agents", "bench.md"), "---\nbottle: bench\nworkspace: none\n---\nDoor benchmark.\n");

const env: Record<string, string> = {};
for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CLAUDE_BOTTLE_")) env[k] = v;
Object.assign(env, { CLAUDE_BOTTLE_HOME: home, CLAUDE_BOTTLE_BACKEND: "docker", CLAUDE_BOTTLE_BASE_IMAGE: BASE, CLAUDE_BOTTLE_AGENT_PACKAGE: "none" });
const slugs = new Set<string>();

// Async: the upstream is served by this very process, whose event loop a
// spawnSync would block while the bottle asks it.
type Run = { code: number; out: string; err: string; ms: number };
async function sh(argv: string[], door: Door): Promise<Run> {
  const t0 = performance.now();
  const p = Bun.spawn(argv, { cwd: work, env: { ...env, CLAUDE_BOTTLE_DOOR: door }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err, ms: performance.now() - t0 };
}

function must(r: Run, what: string): Run {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${(r.err || r.out).trim().split("\n").slice(-3).join(" | ")}`);
  return r;
}

async function up(door: Door): Promise<{ ms: number; slug: string }> {
  const t0 = performance.now();
  const slug = must(await sh([bin, "up", "bench", "-d", "--yes"], door), `up (${door})`).out.trim().split("\n").at(-1)!;
  slugs.add(slug);
  must(await sh([bin, "exec", slug, "--", "true"], door), `exec (${door})`);
  return { ms: performance.now() - t0, slug };
}

// Timed inside the bottle (date +%s%N), so the exec's own start is not in it.
async function inside(slug: string, door: Door, script: string): Promise<number> {
  const r = must(await sh([bin, "exec", slug, "--", "sh", "-c", `s=$(date +%s%N); ${script} || exit 9; e=$(date +%s%N); echo $(( (e - s) / 1000 ))`], door), `exec in ${slug}`);
  return Number(r.out.trim().split("\n").at(-1)) / 1000; // ms
}

const url = (path: string) => `http://127.0.0.1:${upstream.port}${path}`;
const requests = async (slug: string, door: Door) =>
  (await inside(slug, door, `i=0; while [ $i -lt ${REQUESTS} ]; do curl -sf -m 10 --noproxy '' -o /dev/null ${url("/r")} || exit 1; i=$((i+1)); done`)) / REQUESTS;
const download = (slug: string, door: Door) => inside(slug, door, `curl -sf -m 60 --noproxy '' -o /dev/null ${url("/big")}`);

async function down(slug: string, door: Door): Promise<number> {
  const r = must(await sh([bin, "down", slug], door), `down ${slug}`);
  slugs.delete(slug);
  return r.ms;
}

try {
  console.log(`machine: ${machineLine()}`);
  console.log(`base image ${BASE}; rounds ${runs}; ${REQUESTS} requests and one ${BIG / 2 ** 20} MiB download per bottle`);
  // Warm-up, not timed: the agent image and every cache.
  for (const d of ["unix", "bridge"] as const) await down((await up(d)).slug, d);

  const rows: Record<Door, { up: number; req: number; mbps: number; down: number }[]> = { unix: [], bridge: [] };
  for (let i = 0; i < runs; i++) {
    const order: Door[] = i % 2 === 0 ? ["unix", "bridge"] : ["bridge", "unix"];
    const round: Partial<Record<Door, { up: number; req: number; mbps: number; down: number }>> = {};
    for (const d of order) {
      const u = await up(d);
      const req = await requests(u.slug, d);
      const dl = await download(u.slug, d);
      round[d] = { up: u.ms, req, mbps: BIG / 2 ** 20 / (dl / 1000), down: await down(u.slug, d) };
    }
    for (const d of order) rows[d].push(round[d]!);
    const f = (d: Door) => `${d} up ${round[d]!.up.toFixed(0)} ms, ${round[d]!.req.toFixed(2)} ms/request, ${round[d]!.mbps.toFixed(0)} MiB/s, down ${round[d]!.down.toFixed(0)} ms`;
    console.log(`round ${i + 1}: ${f("unix")} | ${f("bridge")}`);
  }
  const ratio = (k: "up" | "req" | "down") => median(rows.bridge.map((b, i) => b[k] / rows.unix[i]![k]));
  // Throughput: bridge over unix, < 1 is slower.
  const tput = median(rows.bridge.map((b, i) => b.mbps / rows.unix[i]!.mbps));
  const m = (d: Door, k: "up" | "req" | "mbps" | "down") => median(rows[d].map((r) => r[k]));
  console.log(`medians  unix: up ${m("unix", "up").toFixed(0)} ms, ${m("unix", "req").toFixed(2)} ms/request, ${m("unix", "mbps").toFixed(0)} MiB/s, down ${m("unix", "down").toFixed(0)} ms`);
  console.log(`       bridge: up ${m("bridge", "up").toFixed(0)} ms, ${m("bridge", "req").toFixed(2)} ms/request, ${m("bridge", "mbps").toFixed(0)} MiB/s, down ${m("bridge", "down").toFixed(0)} ms`);
  console.log(`door: up_bridge_vs_unix=${ratio("up").toFixed(2)} request_bridge_vs_unix=${ratio("req").toFixed(2)} throughput_bridge_vs_unix=${tput.toFixed(2)} down_bridge_vs_unix=${ratio("down").toFixed(2)}`);
} finally {
  for (const slug of slugs) await sh([bin, "down", slug], "unix");
  upstream.stop(true);
  for (const d of [home, work]) rmSync(d, { recursive: true, force: true });
}
