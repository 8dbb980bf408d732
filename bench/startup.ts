#!/usr/bin/env bun
// Start-up time of the compiled binary (`dist/claude-bottle --help`) against
// its peer, the same program run from source (`bun src/cli.ts --help`).
// Goal: median <= 25 ms for the binary.
//
//   bun bench/startup.ts [--runs N]    (builds dist/ first if it is missing)
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const bin = join(root, "dist", "claude-bottle");
const GOAL_MS = 25;

const i = process.argv.indexOf("--runs");
const runs = Math.max(3, Number(i >= 0 ? process.argv[i + 1] : 30) || 30);

if (!existsSync(bin)) {
  const b = Bun.spawnSync([process.execPath, "run", "build"], { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (b.exitCode !== 0) process.exit(1);
}

function once(argv: string[]): number {
  const t0 = performance.now();
  const r = Bun.spawnSync(argv, { cwd: root, stdout: "ignore", stderr: "pipe" });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.toString().split("\n")[0]}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function measure(argv: string[]): number[] {
  for (let w = 0; w < 2; w++) once(argv); // warm the page cache
  return Array.from({ length: runs }, () => once(argv));
}

// Interleaving would be fairer against drift, but two short series are
// enough here and keep each measurement free of the other's cache effects.
const compiled = measure([bin, "--help"]);
const source = measure([process.execPath, join(root, "src", "cli.ts"), "--help"]);
const mc = median(compiled);
const ms = median(source);

const fmt = (x: number) => x.toFixed(1).padStart(6);
console.log(`runs per command: ${runs}`);
console.log(`dist/claude-bottle --help   median ${fmt(mc)} ms  (min ${fmt(Math.min(...compiled))}, max ${fmt(Math.max(...compiled))})`);
console.log(`bun src/cli.ts --help       median ${fmt(ms)} ms  (min ${fmt(Math.min(...source))}, max ${fmt(Math.max(...source))})`);
console.log(`ratio compiled/source: ${(mc / ms).toFixed(2)} (${(ms / mc).toFixed(1)}x faster)`);
console.log(`goal <= ${GOAL_MS} ms: ${mc <= GOAL_MS ? "met" : "NOT met"}`);
process.exitCode = mc <= GOAL_MS ? 0 : 1;
