#!/usr/bin/env bun
// bun bench/release.ts [--targets all|host|a,b] [--runs 20] [--json]
//
// Builds the release binaries (same code path as scripts/release.ts, into a
// temp dir) and reports per target: binary size, tarball size, and for the
// target this machine can run, `--help` start-up time (median and p90 of
// --runs spawns after 3 warm-ups). Other targets are reported as size only.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gitCommit } from "../scripts/lib/compile.ts";
import { buildRelease, sourceDateEpoch } from "../scripts/lib/release.ts";
import { hostTarget, parseTargets } from "../scripts/lib/targets.ts";
import pkg from "../package.json" with { type: "json" };

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { targets: { type: "string" }, runs: { type: "string", default: "20" }, json: { type: "boolean" } },
  strict: true,
});
const runs = Math.max(1, Number(values.runs));
const targets = parseTargets(values.targets);
const host = hostTarget();
const work = mkdtempSync(join(tmpdir(), "cb-bench-release-"));

function startup(bin: string): { median: number; p90: number } {
  const once = () => {
    const t = performance.now();
    const r = Bun.spawnSync([bin, "--help"], { stdout: "ignore", stderr: "ignore" });
    if (r.exitCode !== 0) throw new Error(`${bin} --help exited ${r.exitCode}`);
    return performance.now() - t;
  };
  for (let i = 0; i < 3; i++) once();
  const xs = Array.from({ length: runs }, once).sort((a, b) => a - b);
  return { median: xs[Math.floor(xs.length / 2)]!, p90: xs[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)]! };
}

try {
  const r = await buildRelease({
    root,
    outDir: join(work, "dist"),
    version: pkg.version,
    commit: gitCommit(root),
    targets,
    mtime: sourceDateEpoch(root),
    keepBinariesDir: join(work, "bin"),
  });
  const rows = r.built.map((b) => {
    const runsHere = host?.name === b.target.name;
    const s = runsHere ? startup(join(work, "bin", b.target.name, "claude-bottle")) : undefined;
    return {
      target: b.target.name,
      binaryBytes: b.binarySize,
      tarballBytes: b.tarballSize,
      helpMedianMs: s ? Number(s.median.toFixed(1)) : null,
      helpP90Ms: s ? Number(s.p90.toFixed(1)) : null,
    };
  });
  if (values.json) {
    process.stdout.write(JSON.stringify({ version: pkg.version, runs, rows }, null, 2) + "\n");
  } else {
    const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
    process.stdout.write(`claude-bottle ${pkg.version} release bench (--help: ${runs} runs after 3 warm-ups)\n`);
    process.stdout.write(`${"target".padEnd(14)}${"binary".padStart(11)}${"tar.gz".padStart(11)}   --help start-up\n`);
    for (const row of rows) {
      const help = row.helpMedianMs === null ? "size only (cannot run here)" : `median ${row.helpMedianMs} ms, p90 ${row.helpP90Ms} ms`;
      process.stdout.write(`${row.target.padEnd(14)}${mib(row.binaryBytes).padStart(11)}${mib(row.tarballBytes).padStart(11)}   ${help}\n`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
