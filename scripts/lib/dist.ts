import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

// The one rule for when dist/claude-bottle must be rebuilt, shared by the
// tests that run the compiled binary (test/cli/binary.ts) and the
// benchmarks that time it (bench/lib/dist.ts): when it is missing, or
// anything that goes into it is newer: src/, package.json, bun.lock, and
// the build itself (scripts/build.ts, scripts/lib/: the flags, the baked-in
// usage).

export const ROOT = join(import.meta.dir, "..", "..");
export const BIN = join(ROOT, "dist", "claude-bottle");

function newestUnder(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

function mtime(path: string): number {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

export function distIsStale(root: string = ROOT): boolean {
  const bin = join(root, "dist", "claude-bottle");
  if (!existsSync(bin)) return true;
  const inputs = [
    newestUnder(join(root, "src")),
    newestUnder(join(root, "scripts", "lib")),
    ...["package.json", "bun.lock", join("scripts", "build.ts")].map((f) => mtime(join(root, f))),
  ];
  return Math.max(...inputs) > statSync(bin).mtimeMs;
}

// Rebuilds with the real build script when stale; true when it did.
export function ensureDist(root: string = ROOT): boolean {
  if (!distIsStale(root)) return false;
  const b = Bun.spawnSync([process.execPath, "run", "build"], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (b.exitCode !== 0) throw new Error(`bun run build failed:\n${b.stderr.toString()}${b.stdout.toString()}`);
  return true;
}
