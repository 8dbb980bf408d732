#!/usr/bin/env bun
// Builds the single executable: dist/claude-bottle (or --outfile), with the
// same flags as a release (scripts/lib/compile.ts). Never strip the result:
// `strip` removes the embedded program and leaves plain bun behind.
//
//   bun scripts/build.ts [--target bun-darwin-arm64] [--outfile dist/x]
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { compile, CompileError, gitCommit } from "./lib/compile.ts";

const root = join(import.meta.dir, "..");

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const target = arg("--target") ?? `bun-${process.platform}-${process.arch}`;
const outfile = resolve(arg("--outfile") ?? join(root, "dist", "claude-bottle"));
const commit = gitCommit(root);
mkdirSync(dirname(outfile), { recursive: true });

const started = performance.now();
try {
  await compile({ root, outfile, target, commit });
} catch (e) {
  process.stderr.write(`build: ${e instanceof CompileError ? e.message : String(e)}\n`);
  process.exit(1);
}
process.stdout.write(`built ${outfile} (${target}, commit ${commit}) in ${Math.round(performance.now() - started)} ms\n`);
