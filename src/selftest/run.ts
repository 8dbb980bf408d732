import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attacks, controls } from "./attacks/index.ts";
import { startBottle } from "./bottle.ts";
import { bridgeName } from "../backends/docker/constants.ts";
import { paths } from "../state/paths.ts";
import { bridgeFaultCases, gateFaultCases } from "./fault.ts";
import { outcomeOf } from "./outcome.ts";
import { buildReport, type Report } from "./report.ts";
import { attackRunner } from "./runner.ts";
import { judgeAttack } from "./script.ts";
import type { Attack, AttackContext, AttackOutcome, Evidence, Verdict } from "./types.ts";
import { startWorld } from "./world.ts";

// The escape suite's runner, shared by `claude-bottle selftest` and
// `bun run test:escape`. It brings up a REAL bottle through the same `up`
// a user runs (bottle.ts), in a world of planted secrets and host-side
// receivers (world.ts), then attacks from inside and judges every attempt
// from what the receivers recorded.

export interface SelftestOptions {
  backend?: string; // docker | smolmachines (default: auto)
  door?: string; // unix | bridge | auto (default: CLAUDE_BOTTLE_DOOR, else auto)
  log: (line: string) => void; // progress, to stderr
  baseImage?: string; // CLAUDE_BOTTLE_BASE_IMAGE for the bottle image
  only?: (a: Pick<Attack, "id">) => boolean; // run a subset (tests)
  // Every attack's evidence as judged (the fixture capture records them).
  onEvidence?: (a: Attack, ev: Evidence, ctx: AttackContext, outcome: AttackOutcome) => void;
}

export async function runSelftest(opts: SelftestOptions): Promise<Report> {
  const work = mkdtempSync(join(tmpdir(), "claude-bottle-selftest-"));
  const cleanups: (() => void | Promise<void>)[] = [() => rmSync(work, { recursive: true, force: true })];
  try {
    const world = await startWorld({ dir: work });
    cleanups.unshift(() => world.stop());
    const bottle = await startBottle(world, opts);
    cleanups.unshift(() => bottle.stop());
    const ctx = bottle.ctx;

    const runner = attackRunner(world.collect);
    const outcomes: AttackOutcome[] = [];
    const run = async (a: Attack, control: boolean, custom?: (ev: Evidence) => Verdict): Promise<AttackOutcome> => {
      const index = outcomes.length;
      let o!: AttackOutcome;
      const judge = (ev: Evidence, overflowed: boolean): Verdict => {
        const v = judgeAttack(a, ev, ctx, overflowed);
        return custom && v.ran !== false && !overflowed ? custom(ev) : v;
      };
      const ev = await runner.run(
        () => bottle.run(a),
        judge,
        (v) => {
          o = outcomeOf(a, v, control);
          // A stray arrival re-judges an attack already recorded.
          if (outcomes.length > index) outcomes[index] = o;
        },
      );
      opts.onEvidence?.(a, ev, ctx, o);
      return o;
    };
    const record = (o: AttackOutcome) => {
      opts.log(`selftest: ${o.pass ? "ok     " : o.ran ? "FAIL   " : "NOT RUN"} ${o.id} (${o.observed ?? "-"})`);
      outcomes.push(o);
    };

    const pick = opts.only ?? (() => true);
    for (const c of controls(ctx).filter(pick)) record(await run(c, true));
    for (const a of attacks(ctx).filter(pick)) record(await run(a, false));
    if (pick({ id: "10.gate-killed" })) {
      for (const o of await gateFaultCases(bottle.stateDir, ctx, controls(ctx)[0]!, run)) record(o);
    }
    // Behind the bridge door the bottle's way out also needs its bridge.
    if (pick({ id: "10.bridge-killed" }) && existsSync(paths.bridge(bottle.stateDir))) {
      for (const o of await bridgeFaultCases(bottle.stateDir, bridgeName(bottle.slug), controls(ctx)[0]!, run)) record(o);
    }
    runner.settle();
    return buildReport(bottle.backend, outcomes);
  } finally {
    for (const c of cleanups) {
      try {
        await c();
      } catch {
        // Best effort: `claude-bottle cleanup` finds anything left.
      }
    }
  }
}
