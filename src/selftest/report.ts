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
  outcomes: AttackOutcome[];
}

export function buildReport(backend: string, outcomes: AttackOutcome[]): Report {
  const passed = outcomes.filter((o) => o.pass).length;
  return { version: 1, backend, passed, failed: outcomes.length - passed, outcomes };
}

// `color`: whether the terminal takes colour (ui/style.ts colorsFor).
export function renderTable(r: Report, color = false): string {
  const rows = r.outcomes.map((o) => [
    o.pass ? "ok" : "FAIL",
    o.id,
    o.title,
    o.expected,
    o.observed ?? "-",
    o.detail,
  ]);
  const head = ["result", "attack", "what", "expected layer", "observed", "detail"];
  const result = (t: string) => (t === "FAIL" ? paint(color, ["red", "bold"], t) : t === "ok" ? paint(color, "green", t) : t);
  const cols = head.map((_, i) => ({ max: i === 5 ? 60 : 48, style: i === 0 ? result : undefined }));
  const lines = table([head, ...rows], { columns: cols, rule: true });
  lines.push("");
  lines.push(
    r.failed === 0
      ? `selftest (${r.backend}): all ${r.passed} attacks blocked by the expected layer`
      : `selftest (${r.backend}): ${r.failed} of ${r.passed + r.failed} attacks NOT blocked as expected`,
  );
  return lines.join("\n");
}
