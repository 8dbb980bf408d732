import { paint } from "../ui/style.ts";
import { table } from "../ui/table.ts";
import type { AttackOutcome } from "./types.ts";

// The suite's report: a table for people, the same rows as JSON for
// machines. Pure functions so the format is unit-tested.

export interface Report {
  version: 1;
  backend: string;
  passed: number;
  failed: number;
  notRun: number; // among the failed: attacks that did not run at all
  outcomes: AttackOutcome[];
}

export function buildReport(backend: string, outcomes: AttackOutcome[]): Report {
  const passed = outcomes.filter((o) => o.pass).length;
  const notRun = outcomes.filter((o) => !o.ran).length;
  return { version: 1, backend, passed, failed: outcomes.length - passed, notRun, outcomes };
}

// "did not run" is a failure of its own kind, not a block and not a leak.
export function resultOf(o: AttackOutcome): string {
  return o.pass ? "ok" : o.ran ? "FAIL" : "NOT RUN";
}

// `color`: whether the terminal takes colour (ui/style.ts colorsFor).
export function renderTable(r: Report, color = false): string {
  const rows = r.outcomes.map((o) => [resultOf(o), o.id, o.title, o.expected, o.observed ?? "-", o.detail]);
  const head = ["result", "attack", "what", "expected layer", "observed", "detail"];
  const result = (t: string) => (t === "FAIL" || t === "NOT RUN" ? paint(color, ["red", "bold"], t) : t === "ok" ? paint(color, "green", t) : t);
  const cols = head.map((_, i) => ({ max: i === 5 ? 60 : 48, style: i === 0 ? result : undefined }));
  const lines = table([head, ...rows], { columns: cols, rule: true });
  lines.push("");
  const total = r.passed + r.failed;
  lines.push(
    r.failed === 0
      ? `selftest (${r.backend}): all ${r.passed} attacks blocked by the expected layer`
      : `selftest (${r.backend}): ${r.failed} of ${total} attacks NOT blocked as expected` + (r.notRun > 0 ? ` (${r.notRun} did not run)` : ""),
  );
  return lines.join("\n");
}
