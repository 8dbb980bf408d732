#!/usr/bin/env bun
// bun scripts/render-formula.ts --sums dist/SHA256SUMS --repo owner/name [--version X] [--out packaging/homebrew/claude-bottle.rb]
//
// Renders the Homebrew formula from packaging/homebrew/claude-bottle.rb.in and
// a release's SHA256SUMS (the release workflow runs this after downloading the
// checksums it just published, so the formula names exactly those bytes).
import { parseArgs } from "node:util";
import { join } from "node:path";
import { parseSums } from "./lib/checksums.ts";
import { renderFormula } from "./lib/formula.ts";
import pkg from "../package.json" with { type: "json" };

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { sums: { type: "string" }, repo: { type: "string" }, version: { type: "string" }, out: { type: "string" } },
  strict: true,
});
const repo = values.repo ?? process.env.GITHUB_REPOSITORY;
if (!values.sums || !repo) {
  process.stderr.write("render-formula: --sums FILE and --repo owner/name (or GITHUB_REPOSITORY) are required\n");
  process.exit(2);
}
const out = values.out ?? join(root, "packaging/homebrew/claude-bottle.rb");
try {
  const formula = renderFormula({
    template: await Bun.file(join(root, "packaging/homebrew/claude-bottle.rb.in")).text(),
    version: values.version ?? pkg.version,
    repo,
    sums: parseSums(await Bun.file(values.sums).text()),
  });
  await Bun.write(out, formula);
  process.stdout.write(`wrote ${out}\n`);
} catch (e) {
  process.stderr.write(`render-formula: ${(e as Error).message}\n`);
  process.exit(1);
}
