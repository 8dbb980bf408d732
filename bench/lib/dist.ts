import { existsSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

// The benchmarks time the compiled binary, so it must be built from the
// source being measured: rebuilt whenever anything under src/ (or
// package.json, bun.lock) is newer than dist/claude-bottle.

export const root = join(import.meta.dir, "..", "..");
export const bin = join(root, "dist", "claude-bottle");

function newestUnder(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

export function distIsStale(): boolean {
  if (!existsSync(bin)) return true;
  const built = statSync(bin).mtimeMs;
  const inputs = [newestUnder(join(root, "src")), ...["package.json", "bun.lock"].map((f) => (existsSync(join(root, f)) ? statSync(join(root, f)).mtimeMs : 0))];
  return Math.max(...inputs) > built;
}

export function ensureDist(log: (s: string) => void = (s) => process.stderr.write(s + "\n")): void {
  if (!distIsStale()) return;
  log("bench: src/ is newer than dist/claude-bottle: rebuilding");
  const b = Bun.spawnSync([process.execPath, "run", "build"], { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (b.exitCode !== 0) throw new Error("bun run build failed");
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// One line about the machine, printed with the results (the README quotes it).
export function machineLine(): string {
  const cpu = os.cpus()[0]?.model?.replace(/\s+/g, " ").trim() ?? "unknown cpu";
  const gib = Math.round(os.totalmem() / 2 ** 30);
  return `${os.cpus().length} cores (${cpu}), ${gib} GiB, ${os.type()} ${os.release()}, bun ${Bun.version}`;
}
