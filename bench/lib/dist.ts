import os from "node:os";
import { BIN, ROOT, distIsStale, ensureDist as build } from "../../scripts/lib/dist.ts";

// The benchmarks time the compiled binary, so it must be built from the
// source being measured (the rule: scripts/lib/dist.ts).
export const root = ROOT;
export const bin = BIN;

export function ensureDist(log: (s: string) => void = (s) => process.stderr.write(s + "\n")): void {
  if (!distIsStale()) return;
  log("bench: dist/claude-bottle is older than what goes into it: rebuilding");
  build();
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
