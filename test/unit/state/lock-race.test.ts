import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { paths } from "../../../src/state/paths.ts";

// Many processes take over one stale lock at the same moment: exactly one
// may win, every round. (A check-then-remove takeover lets two win: both
// see the dead holder, one removes it and takes the name, the other then
// removes that fresh lock and takes it too.)
const TAKERS = 8;
const ROUNDS = Number(process.env.CLAUDE_BOTTLE_LOCK_ROUNDS ?? 40);
const FIXTURE = join(import.meta.dir, "fixtures", "lock-taker.ts");
const dir = mkdtempSync(join(tmpdir(), "cb-lockrace-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

test(`${TAKERS} processes racing for a stale lock: exactly one wins, ${ROUNDS} rounds out of ${ROUNDS}`, async () => {
  const stateDir = join(dir, "state");
  mkdirSync(stateDir, { mode: 0o700 });
  const procs = Array.from({ length: TAKERS }, (_, i) =>
    Bun.spawn([process.execPath, FIXTURE, dir, String(i), String(ROUNDS)], { stdout: "ignore", stderr: "pipe" }),
  );
  try {
    await until(() => readdirSync(dir).filter((f) => f.startsWith("ready.")).length === TAKERS, "the takers to start");
    const winners: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // A lock left by a process that is gone (its pid was just reaped).
      const dead = Bun.spawnSync(["true"]).pid;
      writeFileSync(paths.lock(stateDir), `${dead}\n`);
      writeFileSync(join(dir, `go.${r}`), "");
      const res = (i: number) => join(dir, `res.${r}.${i}`);
      await until(() => Array.from({ length: TAKERS }, (_, i) => existsSync(res(i))).every(Boolean), `round ${r}`);
      const results = Array.from({ length: TAKERS }, (_, i) => readFileSync(res(i), "utf8"));
      expect(results.filter((x) => x !== "won" && x !== "busy")).toEqual([]);
      const won = results.flatMap((x, i) => (x === "won" ? [i] : []));
      winners.push(won.length);
      writeFileSync(join(dir, `done.${r}`), "");
      await until(() => won.every((i) => existsSync(join(dir, `rel.${r}.${i}`))), `round ${r} release`);
    }
    expect(winners).toEqual(Array(ROUNDS).fill(1));
    // Nothing is left behind: no lock, no claim, no temp file.
    expect(readdirSync(stateDir)).toEqual([]);
  } finally {
    for (const p of procs) p.kill();
  }
}, 120_000);

test("a taker that died mid-takeover leaves a claim that is itself taken over", async () => {
  const { createHash } = await import("node:crypto");
  const { tryLock } = await import("../../../src/state/lock.ts");
  const d = mkdtempSync(join(dir, "claim-"));
  const file = join(d, "x.lock");
  const dead = Bun.spawnSync(["true"]).pid;
  const stale = `${dead} gone\n`;
  writeFileSync(file, stale);
  const claim = `${file}.stale-${createHash("sha256").update(stale).digest("hex").slice(0, 16)}`;
  writeFileSync(claim, `${dead} taker-died\n`);
  const r = tryLock(file);
  expect(r.ok).toBe(true);
  if (r.ok) {
    expect(readFileSync(file, "utf8")).toStartWith(`${process.pid} `);
    // Held by a live process (this one): nobody takes it, not even us again.
    expect(tryLock(file)).toEqual({ ok: false, holder: process.pid });
    r.lock.release();
  }
  expect(readdirSync(d)).toEqual([]);
});
