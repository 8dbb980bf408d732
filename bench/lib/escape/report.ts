import { table } from "../../../src/ui/table.ts";

// The side-by-side report: one row per attack, one verdict per sandbox, and
// the receivers' evidence for whatever got through (or the bottle's block).
// Pure, so the counting and the closing line are unit-tested.

export const SIDES = ["bottle", "srt", "srt_masked"] as const;
export type Side = (typeof SIDES)[number];

// FAIL: the bottle blocked it, but not by the wall `selftest` expects.
export type Mark = "blocked" | "THROUGH" | "FAIL" | "n/a" | "NOT RUN";

export interface Cell {
  mark: Mark;
  detail: string;
}

export interface Row {
  id: string;
  title: string;
  control: boolean; // a control must get through on every side
  cells: Record<Side, Cell>;
}

export interface Tally {
  blocked: number;
  applicable: number;
  notRun: number;
  controlsFailed: string[];
}

export function tally(rows: Row[], side: Side): Tally {
  const t: Tally = { blocked: 0, applicable: 0, notRun: 0, controlsFailed: [] };
  for (const r of rows) {
    const c = r.cells[side];
    if (c.mark === "NOT RUN") t.notRun++;
    if (r.control) {
      if (c.mark !== "THROUGH" && c.mark !== "n/a") t.controlsFailed.push(`${r.id}: ${c.detail}`);
      continue;
    }
    if (c.mark === "n/a") continue;
    t.applicable++;
    if (c.mark === "blocked") t.blocked++;
  }
  return t;
}

// `escape: bottle=<b>/<n> srt=<s>/<n> srt_masked=<m>/<n>`, blocked of applicable.
export function summaryLine(rows: Row[]): string {
  return `escape: ${SIDES.map((s) => {
    const t = tally(rows, s);
    return `${s}=${t.blocked}/${t.applicable}`;
  }).join(" ")}`;
}

// The evidence column: what each side that did not block showed, else the
// bottle's own account of its block.
function evidence(r: Row): string {
  const bad = SIDES.filter((s) => ["THROUGH", "FAIL", "NOT RUN"].includes(r.cells[s].mark));
  if (r.control) return SIDES.filter((s) => r.cells[s].mark !== "THROUGH" && r.cells[s].mark !== "n/a").map((s) => `${s}: ${r.cells[s].detail}`).join("; ") || "reached the upstream on every side";
  if (bad.length === 0) return `bottle: ${r.cells.bottle.detail}`;
  return bad.map((s) => `${s}: ${r.cells[s].detail}`).join("; ");
}

export function renderText(rows: Row[], width = 70): string {
  const head = ["attack", ...SIDES, "evidence (from the receivers)"];
  const body = rows.map((r) => [r.id, ...SIDES.map((s) => r.cells[s].mark), evidence(r)]);
  return table([head, ...body], { columns: [{ max: 28 }, {}, {}, {}, { max: width }], rule: true }).join("\n");
}

export function renderMarkdown(rows: Row[]): string {
  const esc = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  const lines = [`| attack | ${SIDES.join(" | ")} | evidence (from the receivers) |`, `|---|${SIDES.map(() => "---").join("|")}|---|`];
  for (const r of rows) lines.push(`| \`${r.id}\` ${esc(r.title)} | ${SIDES.map((s) => r.cells[s].mark).join(" | ")} | ${esc(evidence(r).slice(0, 220))} |`);
  return lines.join("\n");
}
