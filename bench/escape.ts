#!/usr/bin/env bun
// The escape suite side by side with a peer: the SAME attack catalogue
// `claude-bottle selftest` runs (src/selftest/attacks), judged from the SAME
// host-side receivers (src/selftest/receivers, one world for all), against
//   bottle     — a claude-bottle docker bottle,
//   srt        — Anthropic's sandbox-runtime with a host allowlist,
//   srt_masked — srt with TLS termination and credential masking,
// with equivalent policies (bench/lib/escape/srt.ts). Attacks run
// interleaved: each attack on all three sides before the next.
//
//   bun run bench:escape [-- --quick] [--markdown] [--capture <file.json>]
//
// --capture writes the peer sides' evidence, redacted, for the judge's unit
// tests (bench/lib/escape/capture.ts).
//
// Root only: the run lives in a private mount namespace whose
// /etc/resolv.conf names a DNS recorder, so every name a door resolves on
// the host (srt's proxy, the gate) is recorded; the host's own file is never
// touched. The last line is machine-readable, blocked of applicable:
//   escape: bottle=<b>/<n> srt=<s>/<n> srt_masked=<m>/<n>
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SRT_BIN, startSrt, type SrtUnderTest } from "./lib/escape/srt.ts";
import { redact, redactor, type CapturedCase, type PeerFixture } from "./lib/escape/capture.ts";
import { judgePeer, notApplicable, type PeerVerdict } from "./lib/escape/peer-judge.ts";
import { renderMarkdown, renderText, SIDES, summaryLine, tally, type Cell, type Row, type Side } from "./lib/escape/report.ts";
import { attacks, controls } from "../src/selftest/attacks/index.ts";
import { startBottle } from "../src/selftest/bottle.ts";
import { gateFaultCases } from "../src/selftest/fault.ts";
import { outcomeOf } from "../src/selftest/outcome.ts";
import { attackRunner } from "../src/selftest/runner.ts";
import { judgeAttack } from "../src/selftest/script.ts";
import type { Attack, AttackOutcome, Evidence, Verdict } from "../src/selftest/types.ts";
import { startWorld } from "../src/selftest/world.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const markdown = args.includes("--markdown");
const captureTo = args.includes("--capture") ? args[args.indexOf("--capture") + 1] : undefined;
const NS = "CLAUDE_BOTTLE_ESCAPE_BENCH_NS";
// Loopback addresses nothing else serves DNS on; a run takes the first free
// one (another run may hold the first).
const RESOLVERS = ["127.0.0.153", ...Array.from({ length: 6 }, (_, i) => `127.53.${1 + i}.${1 + ((process.pid + i * 37) % 250)}`)];

// A representative subset: one or two of every category, each wall of
// every side (the controls and the gate kill always run). Prefixes pick
// the first match.
const QUICK = [
  "1.https-host",
  "2.ip-2130706433",
  "2.host-mismatch",
  "2.sni-mismatch",
  "3.query-base64",
  "3.body-gzip",
  "3.body-other-host",
  "3.workspace-file",
  "4.crafted-subdomain",
  "4.dig-",
  "5.git-push-test_secret_aws",
  "5.push-around-git-gate",
  "6.tcp-",
  "6.udp-",
  "7.proxy-host-loopback",
  "7.unix-host-socket",
  "8.smuggle-cl-te",
  "8.placeholder-elsewhere",
  "9.credential-in-body",
  "9.credential-echo-body",
  "9.credential-absent",
];

// Outside the namespace: check what the run needs, then run this file again
// in a private mount namespace and pass its exit code on.
async function outside(): Promise<number> {
  const why =
    process.getuid?.() !== 0
      ? "run as root: a private mount namespace points the resolver at the DNS recorder (and bubblewrap runs srt)"
      : !existsSync(SRT_BIN)
        ? `no srt at ${SRT_BIN}: run \`bun install\` (devDependency @anthropic-ai/sandbox-runtime)`
        : null;
  const missing = ["unshare", "mount", "bwrap", "rg", "socat", "docker", "curl", "dig", "git", "ip", "node"].filter((t) => !Bun.which(t));
  const problem = why ?? (missing.length ? `missing on the host: ${missing.join(" ")} (.ci/run installs them: bubblewrap ripgrep dnsutils …)` : null);
  if (problem) {
    console.error(`bench:escape: ${problem}`);
    return 2;
  }
  const p = Bun.spawn(["unshare", "--mount", "--propagation", "private", "--", process.execPath, import.meta.path, ...args], {
    env: { ...process.env, [NS]: "1" },
    stdio: ["inherit", "inherit", "inherit"],
  });
  return await p.exited;
}

if (process.env[NS] !== "1") process.exitCode = await outside();
else await inside();

// ------------------------------------------------------------ the run

async function inside(): Promise<void> {
  const log = (l: string) => process.stderr.write(l + "\n");
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "cb-escape-bench-"));
  const cleanups: (() => void | Promise<void>)[] = [() => rmSync(work, { recursive: true, force: true })];
  let rows: Row[] = [];
  try {
    const world = await startWorld({ dir: work, resolverAddresses: RESOLVERS });
    cleanups.unshift(() => world.stop());
    // This process is alone in its mount namespace: from here on, every name
    // it or its children (the gate, srt's proxy) resolve goes to the recorder.
    const conf = join(work, "resolv.conf");
    writeFileSync(conf, `nameserver ${world.resolver!.host}\noptions timeout:2 attempts:1\n`);
    const mounted = Bun.spawnSync(["mount", "--bind", conf, "/etc/resolv.conf"], { stderr: "pipe" });
    if (mounted.exitCode !== 0) throw new Error(`could not point the resolver at the DNS recorder: ${mounted.stderr.toString().trim()}`);
    const bottle = await startBottle(world, { backend: "docker", baseImage: process.env.CLAUDE_BOTTLE_BASE_IMAGE, log });
    cleanups.unshift(() => bottle.stop());
    const peers: Record<Exclude<Side, "bottle">, SrtUnderTest> = {
      srt: startSrt(world, "srt", bottle.ctx.nonce),
      srt_masked: startSrt(world, "srt-masked", bottle.ctx.nonce),
    };

    const pickQuick = (list: Attack[]) => QUICK.flatMap((p) => list.find((a) => a.id === p || (p.endsWith("-") && a.id.startsWith(p))) ?? []);
    const all = attacks(bottle.ctx);
    const list = quick ? pickQuick(all) : all;
    const runner = attackRunner(world.collect);
    const table = new Map<string, Row>();
    const cases: CapturedCase[] = [];
    const rowOf = (a: Attack, control: boolean): Row => {
      let r = table.get(a.id);
      if (!r) {
        const empty: Cell = { mark: "NOT RUN", detail: "did not run" };
        r = { id: a.id, title: a.title, control, cells: { bottle: empty, srt: empty, srt_masked: empty } };
        table.set(a.id, r);
      }
      return r;
    };
    const markOf = (v: PeerVerdict): Cell => ({ mark: v.na ? "n/a" : v.ran === false ? "NOT RUN" : v.blocked ? "blocked" : "THROUGH", detail: v.detail });

    // The bottle, by the suite's own judges: blocked means what `selftest`
    // calls ok (ran, blocked, by the layer expected).
    const runBottle = async (a: Attack, control: boolean, custom?: (ev: Evidence) => Verdict): Promise<AttackOutcome> => {
      let o!: AttackOutcome;
      await runner.run(
        () => bottle.run(a),
        (ev, overflowed) => {
          const v = judgeAttack(a, ev, bottle.ctx, overflowed);
          return custom && v.ran !== false && !overflowed ? custom(ev) : v;
        },
        (v) => {
          o = outcomeOf(a, v, control);
          // Blocked, but not by the wall the suite expects: a FAIL, as in `selftest`.
          const mark = !o.ran ? "NOT RUN" : control || !o.blocked ? (o.blocked ? "blocked" : "THROUGH") : o.pass ? "blocked" : "FAIL";
          rowOf(a, control).cells.bottle = { mark, detail: mark === "FAIL" ? `${o.detail} (expected ${o.expected}, observed ${o.observed ?? "-"})` : o.detail };
        },
      );
      return o;
    };
    const runPeer = async (side: Exclude<Side, "bottle">, bottleAttack: Attack, control: boolean) => {
      const peer = peers[side];
      // The same attack, built from the peer's context (its proxy, its
      // workspace path); the same id.
      const pool = control ? controls(peer.ctx) : attacks(peer.ctx);
      const a = pool.find((x) => x.id === bottleAttack.id);
      const row = rowOf(bottleAttack, control);
      if (!a) {
        row.cells[side] = { mark: "NOT RUN", detail: "the attack does not exist in the peer's catalogue" };
        return;
      }
      const na = notApplicable(a);
      if (na) {
        row.cells[side] = { mark: "n/a", detail: na };
        return;
      }
      const captured: CapturedCase = { id: a.id, side, evidence: { exec: { code: 0, stdout: "", stderr: "" }, audit: [], arrivals: [] }, verdict: { blocked: false, detail: "" } };
      captured.evidence = await runner.run(
        () => peer.run(a),
        (ev, overflowed) => judgePeer(a, ev, peer.ctx, overflowed),
        (v) => {
          row.cells[side] = markOf(v);
          captured.verdict = { blocked: v.blocked, detail: v.detail, ...(v.ran === false ? { ran: false as const } : {}) };
        },
      );
      cases.push(captured);
    };
    const each = async (a: Attack, control: boolean) => {
      await runBottle(a, control);
      await runPeer("srt", a, control);
      await runPeer("srt_masked", a, control);
      const r = rowOf(a, control);
      log(`bench:escape: ${a.id.padEnd(28)} ${SIDES.map((s) => `${s}=${r.cells[s].mark}`).join(" ")}`);
    };

    for (const c of controls(bottle.ctx)) await each(c, true);
    for (const a of list.filter((x) => x.category !== 10)) await each(a, false);
    // The gate killed, and brought back (bottle only): n/a for srt, whose
    // proxy is its own process.
    const fault = await gateFaultCases(bottle.stateDir, bottle.ctx, controls(bottle.ctx)[0]!, runBottle);
    for (const o of fault) {
      const r = rowOf({ id: o.id, title: o.title } as Attack, o.id === "10.gate-restarted");
      if (!o.ran) r.cells.bottle = { mark: "NOT RUN", detail: o.detail };
      for (const s of ["srt", "srt_masked"] as const) r.cells[s] = { mark: "n/a", detail: notApplicable({ id: o.id, expected: "fail-closed" })! };
      log(`bench:escape: ${o.id.padEnd(28)} bottle=${r.cells.bottle.mark}`);
    }
    runner.settle();
    rows = [...table.values()];

    const secs = ((Date.now() - started) / 1000).toFixed(0);
    const srtVersion = (await Bun.file(join(import.meta.dir, "..", "node_modules", "@anthropic-ai", "sandbox-runtime", "package.json")).json()).version;
    const bwrap = Bun.spawnSync(["bwrap", "--version"]).stdout.toString().trim();
    if (captureTo) {
      const r = redactor(bottle.ctx);
      const fixture: PeerFixture = { captured: new Date().toISOString(), peer: `srt ${srtVersion} on ${bwrap}`, ctx: { srt: peers.srt.ctx, srt_masked: peers.srt_masked.ctx }, cases };
      writeFileSync(captureTo, JSON.stringify(redact(fixture, r), null, 1) + "\n");
    }
    console.log(markdown ? renderMarkdown(rows) : renderText(rows));
    console.log("");
    console.log(`srt ${srtVersion} on ${bwrap}; bottle: docker (${bottle.slug}); ${quick ? "quick subset" : "full catalogue"}: ${rows.length} rows in ${secs} s`);
    let bad = false;
    for (const s of SIDES) {
      const t = tally(rows, s);
      if (t.notRun > 0) {
        bad = true;
        console.log(`${s}: ${t.notRun} attack(s) did not run: the benchmark failed there`);
      }
      for (const c of t.controlsFailed) {
        bad = true;
        console.log(`${s}: control failed (its blocks prove nothing): ${c}`);
      }
    }
    console.log(summaryLine(rows));
    process.exitCode = bad ? 1 : 0;
  } catch (e) {
    console.error(`bench:escape: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  } finally {
    for (const c of cleanups) {
      try {
        await c();
      } catch {
        // best effort
      }
    }
  }
}
