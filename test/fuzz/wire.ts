import { prng } from "../helpers/prng.ts";

// Shared plumbing of the wire-parser fuzzers (heads, chunked, SNI, IP).
// Seeded: CLAUDE_BOTTLE_FUZZ_SEED replays a run; CLAUDE_BOTTLE_FUZZ_CASES
// sets the number of cases per fuzzer (CI runs the defaults). A failure
// prints the seed, the case number and a minimised input.

export const SEED = Number(process.env.CLAUDE_BOTTLE_FUZZ_SEED ?? Date.now() % 1_000_000_000);

export function caseCount(defaultN: number): number {
  const n = Number(process.env.CLAUDE_BOTTLE_FUZZ_CASES);
  return Number.isInteger(n) && n > 0 ? n : defaultN;
}

export type Rng = () => number;

export function rng(salt: number): Rng {
  return prng((SEED ^ Math.imul(salt, 0x9e3779b1)) >>> 0);
}

export const int = (r: Rng, n: number) => Math.floor(r() * n);
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;
export const chance = (r: Rng, p: number) => r() < p;

// Delta debugging, simplified: drop ever smaller slices while the input
// still fails. Good enough to turn a 300-byte case into its core.
export function minimize<T>(input: T[], fails: (x: T[]) => boolean): T[] {
  let cur = input;
  for (let size = Math.max(1, cur.length >> 1); size >= 1; size = size === 1 ? 0 : size >> 1) {
    for (let i = 0; i + size <= cur.length; ) {
      const next = [...cur.slice(0, i), ...cur.slice(i + size)];
      if (next.length > 0 && fails(next)) cur = next;
      else i += size;
    }
  }
  return cur;
}

export function show(bytes: Uint8Array | string): string {
  return JSON.stringify(typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("latin1"));
}

export function finding(name: string, i: number, input: string, why: string): Error {
  return new Error(`${name} fuzz finding (replay: CLAUDE_BOTTLE_FUZZ_SEED=${SEED}, case ${i}): ${why}\n  minimal input: ${input}`);
}
