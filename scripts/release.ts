#!/usr/bin/env bun
// bun scripts/release.ts [--targets linux-x64,darwin-arm64|host|all] [--out-dir dist] [--repo owner/name]
//
// Cross-compiles claude-bottle for each target and writes, in --out-dir:
//   claude-bottle-<version>-<os>-<arch>.tar.gz   one top dir with claude-bottle (+ README.md, LICENSE if present)
//   SHA256SUMS                                   for those tarballs (sha256sum -c / shasum -a 256 -c)
//   claude-bottle.rb                             Homebrew formula, only when all four targets were built and a repo is known
// Target runtimes come from the npm registry the first time (then bun's cache).
// Exit codes: 0 ok, 2 bad usage, 3 a target runtime could not be fetched, 1 anything else.
import { parseArgs } from "node:util";
import { join } from "node:path";
import { CompileError, gitCommit } from "./lib/compile.ts";
import { buildRelease, sourceDateEpoch } from "./lib/release.ts";
import { parseTargets } from "./lib/targets.ts";
import pkg from "../package.json" with { type: "json" };

const root = join(import.meta.dir, "..");

function usage(msg: string): never {
  process.stderr.write(`release: ${msg}\nusage: bun scripts/release.ts [--targets a,b|host|all] [--out-dir DIR] [--repo owner/name]\n`);
  process.exit(2);
}

let values: { targets?: string; "out-dir"?: string; repo?: string };
try {
  ({ values } = parseArgs({
    args: process.argv.slice(2),
    options: { targets: { type: "string" }, "out-dir": { type: "string" }, repo: { type: "string" } },
    strict: true,
  }));
} catch (e) {
  usage((e as Error).message);
}

let targets;
try {
  targets = parseTargets(values.targets);
} catch (e) {
  usage((e as Error).message);
}

const outDir = values["out-dir"] ?? join(root, "dist");
const commit = gitCommit(root);
try {
  const r = await buildRelease({
    root,
    outDir,
    version: pkg.version,
    commit,
    targets,
    mtime: sourceDateEpoch(root),
    repo: values.repo ?? process.env.GITHUB_REPOSITORY,
    log: (l) => process.stdout.write(l + "\n"),
  });
  process.stdout.write(`release ${pkg.version} (commit ${commit}): ${r.built.length} target(s) in ${outDir}\n`);
} catch (e) {
  if (e instanceof CompileError) {
    process.stderr.write(`release: ${e.message}\n`);
    process.exit(e.runtimeUnavailable ? 3 : 1);
  }
  throw e;
}
