// Text columns for the terminal, in one place. Widths are terminal cells
// (Bun.stringWidth: a CJK character or most emoji take two, a combining mark
// none, colour codes none), not string lengths, so columns line up whatever
// the text, and a line cut to the screen really fits it.

export const cells = (s: string): number => Bun.stringWidth(s);

export function padEnd(s: string, width: number): string {
  const n = width - cells(s);
  return n > 0 ? s + " ".repeat(n) : s;
}

export function padStart(s: string, width: number): string {
  const n = width - cells(s);
  return n > 0 ? " ".repeat(n) + s : s;
}

// Made on the first cut, not at load: constructing it (ICU's break rules)
// costs about 2 ms, and most users of this module (the plan `up` prints, ls)
// never cut anything.
let graphemes: Intl.Segmenter | null = null;

// At most `width` cells, ending in "…" when something was cut; never splits
// a character (grapheme). For plain text: cut before colouring.
export function truncate(s: string, width: number): string {
  if (cells(s) <= width) return s;
  if (width <= 0) return "";
  let out = "";
  let used = 0;
  for (const { segment } of (graphemes ??= new Intl.Segmenter(undefined, { granularity: "grapheme" })).segment(s)) {
    const w = cells(segment);
    if (used + w > width - 1) break;
    out += segment;
    used += w;
  }
  return out + "…";
}

// Exactly `width` cells: cut or padded.
export function fit(s: string, width: number): string {
  return padEnd(truncate(s, width), width);
}

export interface Column {
  align?: "left" | "right";
  max?: number; // cells; longer values are cut with "…"
  style?: (text: string, row: number) => string; // colour, applied after cutting
}

// Rows of cells (the first is usually the header) -> lines. A column is as
// wide as its widest cell, up to `max`; columns are joined by `gap`; the
// last column is not padded when left-aligned, and no line ends in blanks.
// `rule`: a line of dashes under the first row.
export function table(rows: string[][], opts: { columns?: Column[]; gap?: string; rule?: boolean } = {}): string[] {
  const n = Math.max(0, ...rows.map((r) => r.length));
  const col = (i: number): Column => opts.columns?.[i] ?? {};
  const cut = rows.map((r) => r.map((c, i) => (col(i).max !== undefined ? truncate(c, col(i).max!) : c)));
  const widths = Array.from({ length: n }, (_, i) => Math.max(0, ...cut.map((r) => cells(r[i] ?? ""))));
  const line = (r: string[], row: number) =>
    r
      .map((c, i) => {
        const { align, style } = col(i);
        const styled = style ? style(c, row) : c;
        const pad = widths[i]! - cells(c);
        if (align === "right") return " ".repeat(Math.max(0, pad)) + styled;
        return i === r.length - 1 ? styled : styled + " ".repeat(Math.max(0, pad));
      })
      .join(opts.gap ?? "  ")
      .trimEnd();
  const out = cut.map(line);
  if (opts.rule && out.length > 0) out.splice(1, 0, line(widths.map((w) => "-".repeat(w)), -1));
  return out;
}
