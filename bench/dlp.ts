// DLP micro-benchmarks: URL scan latency and body scan throughput.
//
//   bun bench/dlp.ts            full run, prints a table
//   bun bench/dlp.ts --quick    fewer rounds (what the gate bench uses)
//
// Goals (not asserted anywhere: the machine is shared and noisy): scanUrl
// <= 10 us per typical URL, body scanning >= 200 MB/s on ordinary text.
// Each figure is the best of several rounds, timed in process CPU time
// rather than wall time: on a shared machine other processes steal the
// core, and CPU time is the least noisy estimate of what the code costs.
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { compileDlp, type Dlp } from "../src/gate/dlp/index.ts";
import { CODE, GIT_DIFF, PROSE, base64Image, messagesBody, minifiedJs, packageLock, randomToken } from "../test/unit/gate/dlp/corpus.ts";

export interface DlpBenchResult {
  urlUs: number;
  bodyMBps: number;
}

const URLS: [string, string][] = [
  ["api.anthropic.com", "/v1/messages?beta=true"],
  ["api.anthropic.com", "/v1/messages/count_tokens?beta=true"],
  ["api.github.com", "/repos/anthropics/claude-code/pulls/123/comments?per_page=100&page=2"],
  ["api.github.com", "/repos/o/r/commits/3f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c"],
  ["registry.npmjs.org", "/@babel%2fcore"],
  ["www.google.com", "/search?q=how+to+parse+json+in+typescript&hl=en"],
  ["files.pythonhosted.org", "/packages/3b/00/2a1b36c4e5f6a7b8c9d0e1f2a3b4c5d6/requests-2.31.0-py3-none-any.whl"],
  ["proxy.golang.org", "/github.com/spf13/cobra/@v/v1.8.0.mod"],
];

// A realistic bottle: a handful of secrets and the usual placeholders.
function makeDlp(): Dlp {
  return compileDlp({
    secrets: Array.from({ length: 8 }, (_, i) => ({ name: `SECRET_${i}`, value: randomToken(24 + i * 4, 900 + i) })),
    placeholders: [
      { name: "CLAUDE_CODE_OAUTH_TOKEN", value: "sk-" + "ant-oat01-" + randomToken(95, 1) },
      { name: "GITHUB_TOKEN", value: "gh" + "p_" + randomToken(36, 2) },
    ],
  });
}

function best(rounds: number, fn: () => void): number {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    min = Math.min(min, (c.user + c.system) / 1000);
  }
  return min;
}

function urlMicros(dlp: Dlp, rounds: number, perRound: number): number {
  const ms = best(rounds, () => {
    for (let i = 0; i < perRound; i++) {
      const [h, p] = URLS[i % URLS.length]!;
      if (dlp.scanUrl(h, p)) throw new Error(`bench URL blocked: ${h}${p}`);
    }
  });
  return (ms * 1000) / perRound;
}

// CPU time (user + system, every thread of the process: the native
// decoder's too), best of `rounds`.
async function bestAsync(rounds: number, fn: () => Promise<void>): Promise<number> {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    min = Math.min(min, (c.user + c.system) / 1000);
  }
  return min;
}

// The scanner alone, on bytes as they are.
function bodyMBps(dlp: Dlp, data: Uint8Array, rounds: number): number {
  const ms = best(rounds, () => {
    const s = dlp.bodyScanner();
    for (let i = 0; i < data.length; i += 65536) {
      if (s.push(data.subarray(i, i + 65536))) throw new Error("bench body blocked");
    }
    if (s.end()) throw new Error("bench body blocked");
  });
  return data.length / 1e6 / (ms / 1000);
}

// What the gate runs on a request body: decoded by its Content-Encoding,
// then scanned; MB/s of decoded bytes.
async function encodedBodyMBps(dlp: Dlp, data: Uint8Array, rounds: number, encoding: string | null, decodedLength: number): Promise<number> {
  const ms = await bestAsync(rounds, async () => {
    const s = dlp.encodedBodyScanner(encoding);
    for (let i = 0; i < data.length; i += 65536) {
      if (await s.push(data.subarray(i, i + 65536))) throw new Error("bench body blocked");
    }
    if (await s.end()) throw new Error("bench body blocked");
  });
  return decodedLength / 1e6 / (ms / 1000);
}

const te = new TextEncoder();

// Words of the corpus in a seeded pseudo-random order, with a random token
// now and then.
function variedText(targetBytes: number): Uint8Array {
  const words = (PROSE + CODE).split(/\s+/).filter(Boolean);
  const parts: string[] = [];
  let n = 0;
  let x = 12345;
  while (n < targetBytes) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const w = x % 97 === 0 ? randomToken(20, x) : words[x % words.length]!;
    parts.push(w, x % 7 === 0 ? "\n" : " ");
    n += w.length + 1;
  }
  return te.encode(parts.join(""));
}

// Ordinary text: what most request bodies are (conversation JSON with code,
// diffs, prose).
function ordinaryText(targetBytes: number): Uint8Array {
  const unit = messagesBody(10) + PROSE + CODE + GIT_DIFF;
  return te.encode(unit.repeat(Math.max(1, Math.ceil(targetBytes / unit.length))));
}

export async function benchDlp({ quick }: { quick: boolean }): Promise<DlpBenchResult> {
  const dlp = makeDlp();
  const rounds = quick ? 3 : 7;
  // Warm up the JIT on both paths.
  urlMicros(dlp, 1, 20_000);
  const text = ordinaryText(quick ? 8e6 : 32e6);
  bodyMBps(dlp, text.subarray(0, 4e6), 1);
  return {
    urlUs: urlMicros(dlp, rounds, quick ? 20_000 : 100_000),
    bodyMBps: bodyMBps(dlp, text, rounds),
  };
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const r = await benchDlp({ quick });
  const dlp = makeDlp();
  const rounds = quick ? 3 : 5;
  const rows: [string, string][] = [
    ["scanUrl, typical URL", `${r.urlUs.toFixed(2)} us   (goal <= 10)`],
    ["body, ordinary text", `${r.bodyMBps.toFixed(0)} MB/s   (goal >= 200)`],
  ];
  const kinds: [string, string][] = [
    ["body, English prose", PROSE.repeat(20_000)],
    ["body, TypeScript code", CODE.repeat(4_000)],
    ["body, package-lock.json", packageLock(20_000)],
    ["body, minified JS", minifiedJs(5_000)],
    ["body, base64 image", base64Image(6 * 1024 * 1024)],
  ];
  for (const [name, body] of kinds) rows.push([name, `${bodyMBps(dlp, te.encode(body), rounds).toFixed(0)} MB/s`]);
  const text = ordinaryText(16e6);
  rows.push(["body, ordinary text through the gate's path", `${(await encodedBodyMBps(dlp, text, rounds, null, text.length)).toFixed(0)} MB/s`]);
  const gz = gzipSync(text);
  rows.push(["body, gzip ordinary text (decoded bytes/s)", `${(await encodedBodyMBps(dlp, gz, rounds, "gzip", text.length)).toFixed(0)} MB/s`]);
  // Text that compresses like real traffic (about 3.5:1) rather than a
  // repeated unit.
  const varied = variedText(16e6);
  rows.push(["body, gzip varied text (decoded bytes/s)", `${(await encodedBodyMBps(dlp, gzipSync(varied), rounds, "gzip", varied.length)).toFixed(0)} MB/s`]);
  rows.push(["body, deflate varied text (decoded bytes/s)", `${(await encodedBodyMBps(dlp, deflateSync(varied), rounds, "deflate", varied.length)).toFixed(0)} MB/s`]);
  rows.push(["body, br varied text (decoded bytes/s)", `${(await encodedBodyMBps(dlp, brotliCompressSync(varied), rounds, "br", varied.length)).toFixed(0)} MB/s`]);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) makeDlp();
  rows.push(["compileDlp (10 secrets/placeholders)", `${((performance.now() - t0) / 20).toFixed(2)} ms`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
}

if (import.meta.main) await main();
