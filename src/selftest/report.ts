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

export function renderTable(r: Report): string {
  const rows = r.outcomes.map((o) => [
    o.pass ? "ok" : "FAIL",
    o.id,
    o.title,
    o.expected,
    o.observed ?? "-",
    o.detail,
  ]);
  const head = ["result", "attack", "what", "expected layer", "observed", "detail"];
  const widths = head.map((h, i) => Math.min(i === 5 ? 60 : 48, Math.max(h.length, ...rows.map((row) => row[i]!.length))));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (c.length > widths[i]! ? c.slice(0, widths[i]! - 1) + "…" : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const lines = [fmt(head), fmt(widths.map((w) => "-".repeat(w))), ...rows.map(fmt)];
  lines.push("");
  lines.push(
    r.failed === 0
      ? `selftest (${r.backend}): all ${r.passed} attacks blocked by the expected layer`
      : `selftest (${r.backend}): ${r.failed} of ${r.passed + r.failed} attacks NOT blocked as expected`,
  );
  return lines.join("\n");
}
