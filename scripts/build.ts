#!/usr/bin/env bun
// Builds the single executable: dist/claude-bottle (or --outfile). The binary
// must never be stripped: `strip` removes the embedded program and leaves
// plain bun behind. --minify --bytecode roughly halves start-up time.
//
//   bun scripts/build.ts [--target bun-darwin-arm64] [--outfile dist/x]
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

const root = join(import.meta.dir, "..");

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function gitCommit(): string {
  const r = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root, stderr: "ignore" });
  const sha = r.exitCode === 0 ? r.stdout.toString().trim() : "";
  if (!sha) return "unknown";
  // Mark builds from a work tree with uncommitted changes to tracked files.
  const d = Bun.spawnSync(["git", "diff", "--quiet", "HEAD", "--", "src", "package.json"], { cwd: root, stderr: "ignore" });
  return d.exitCode === 1 ? `${sha}-dirty` : sha;
}

const target = arg("--target") ?? `bun-${process.platform}-${process.arch}`;
const outfile = arg("--outfile") ?? join(root, "dist", "claude-bottle");
const commit = gitCommit();
mkdirSync(dirname(outfile), { recursive: true });

const argv = [
  process.execPath,
  "build",
  "--compile",
  "--minify",
  "--bytecode",
  "--format=esm",
  `--target=${target}`,
  "--define",
  `BUILD_COMMIT=${JSON.stringify(commit)}`,
  "--define",
  `BUILD_TARGET=${JSON.stringify(target)}`,
  "--outfile",
  outfile,
  join(root, "src", "cli.ts"),
];
const started = performance.now();
const r = Bun.spawnSync(argv, { cwd: root, stdout: "inherit", stderr: "inherit" });
if (r.exitCode !== 0) {
  process.stderr.write(`build: bun build failed (exit ${r.exitCode})\n`);
  process.exit(r.exitCode ?? 1);
}
process.stdout.write(`built ${outfile} (${target}, commit ${commit}) in ${Math.round(performance.now() - started)} ms\n`);
