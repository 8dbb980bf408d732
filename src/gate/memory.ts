// The gate process's memory under abuse. What a flood of bodies leaves
// behind is mostly garbage: socket read buffers and the views into them,
// which live outside the JavaScript heap and barely count towards when
// JavaScriptCore decides to collect. Measured: 16 abusive connections took
// the gate from 60 MiB to about 280 MiB of RSS with nothing live to show for
// it. Past `softBytes` of RSS, a full collection is forced (at most one per
// `minGapMs`), which keeps the process near what it really holds; below it
// nothing happens, so a quiet gate pays nothing.
//
// The check runs every `checkEveryBytes` read off any socket (io.ts calls
// noteRead), where the garbage comes from: a timer alone is starved exactly
// when it matters, under a flood that keeps the event loop busy.

let softBytes = Infinity;
let checkEveryBytes = 16 * 1024 * 1024;
let minGapMs = 250;
let sinceCheck = 0;
let last = 0;
let collections = 0;

export function governMemory(opts: { softBytes: number; checkEveryBytes?: number; minGapMs?: number }): { stop(): void } {
  softBytes = opts.softBytes;
  checkEveryBytes = opts.checkEveryBytes ?? checkEveryBytes;
  minGapMs = opts.minGapMs ?? minGapMs;
  // Quiet periods: whatever is left over is collected within a second.
  const timer = setInterval(check, 1000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      softBytes = Infinity;
    },
  };
}

export function noteRead(n: number): void {
  sinceCheck += n;
  if (sinceCheck < checkEveryBytes) return;
  sinceCheck = 0;
  check();
}

function check(): void {
  if (softBytes === Infinity || process.memoryUsage.rss() < softBytes) return;
  const now = Date.now();
  if (now - last < minGapMs) return;
  last = now;
  collections++;
  Bun.gc(true);
}

// Forced collections so far (tests, logs).
export function forcedCollections(): number {
  return collections;
}
