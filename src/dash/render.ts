import { age, left } from "../requests/format.ts";
import { cleanLine } from "../requests/sanitize.ts";
import { summarize } from "../requests/tools.ts";
import { paint, type Style } from "../ui/style.ts";
import { fit, padEnd, padStart } from "../ui/table.ts";
import type { Snapshot } from "./model.ts";

// One full frame of the dashboard, as text. Pure: the snapshot and the UI
// state in, lines out; the terminal module puts them on screen. With
// `color` false (NO_COLOR, a pipe: ui/style.ts colorsFor) the frame is
// plain text. Colour goes through styleText; only the cursor control of the
// full-screen terminal (terminal.ts) is written by hand.
//
// Every string that came from an agent (host names, justifications) is
// passed through cleanLine before it is placed, and every line is cut to the
// terminal width, so a hostile request cannot draw outside its row.

export interface UiState {
  selected: number; // index into snapshot.pending
  // Notes typed with `n`, by request id, used by the next approve/deny.
  notes: Record<string, string>;
  // Non-null while the note line is being edited.
  editing: string | null;
  message: string | null;
}

export const initialUi = (): UiState => ({ selected: 0, notes: {}, editing: null, message: null });

// Every line is cut or padded to exactly the screen width in terminal cells
// (ui/table.ts fit: wide CJK glyphs and emoji count two), so nothing wraps.

export function clampSelection(ui: UiState, snap: Snapshot): UiState {
  const n = snap.pending.length;
  const selected = n === 0 ? 0 : Math.min(Math.max(ui.selected, 0), n - 1);
  return selected === ui.selected ? ui : { ...ui, selected };
}

// `color` false: plain text. `fill` false: no padding to the screen height
// and no key help (the `--once` dump).
export function renderFrame(snap: Snapshot, ui: UiState, cols: number, rows: number, color: boolean, fill = true): string[] {
  const width = Math.max(20, cols);
  const out: { text: string; style?: Style }[] = [];
  const push = (text: string, style?: Style) => out.push({ text, style });
  const now = snap.now;

  push(
    ` claude-bottle dash   ${snap.bottles.length} bottle${snap.bottles.length === 1 ? "" : "s"}   ${snap.pending.length} pending request${snap.pending.length === 1 ? "" : "s"}   ${now.toISOString().slice(11, 19)}Z`,
    "inverse",
  );
  push("");
  push(`PENDING REQUESTS`, "bold");
  if (snap.pending.length === 0) push("  (none)", "dim");
  snap.pending.forEach((e, i) => {
    const r = e.request;
    const sel = i === ui.selected;
    const line = `${sel ? ">" : " "} ${r.id}  ${padStart(age(r.created_at, now), 6)} (${left(r.expires_at, now)} left)  ${cleanLine(summarize(r))}`;
    push(line, sel ? "inverse" : undefined);
    if (sel) {
      push(`    why:  ${cleanLine(r.justification)}`);
      const note = ui.editing !== null ? ui.editing : ui.notes[r.id];
      if (ui.editing !== null) push(`    note: ${cleanLine(note ?? "")}_   (Enter to keep, Esc to cancel)`, "yellow");
      else if (note) push(`    note: ${cleanLine(note)}`, "yellow");
    }
  });
  push("");
  push("BOTTLES", "bold");
  if (snap.bottles.length === 0) push("  (none)", "dim");
  for (const b of snap.bottles) {
    const up = b.started_at ? age(b.started_at, now) : "-";
    push(`  ${padEnd(b.slug, 24)} ${padEnd(b.agent, 12)} ${padEnd(b.backend, 12)} ${padEnd(b.status, 8)} gate ${b.gate ? "up  " : "down"}  up ${padEnd(up, 8)} blocked ${b.blocked}`);
  }
  push("");
  push("RECENTLY BLOCKED", "bold");
  const footerLines = 2;
  const room = fill ? Math.max(1, rows - out.length - footerLines) : 20;
  if (snap.blocked.length === 0) push("  (none)", "dim");
  for (const x of snap.blocked.slice(0, room)) {
    const hp = x.port && x.port !== 443 && x.port !== 80 ? `${x.host}:${x.port}` : x.host;
    push(`  ${cleanLine(x.time.slice(11, 19))} ${padEnd(x.slug, 20)} ${padEnd(cleanLine(x.method), 7)} ${cleanLine(hp)}${x.path ? cleanLine(x.path) : ""}  (${cleanLine(x.layer)}: ${cleanLine(x.reason)})`);
  }

  if (!fill) return out.map((l) => fit(l.text, width).trimEnd());
  const body = out.slice(0, Math.max(1, rows - footerLines));
  while (body.length < rows - footerLines) body.push({ text: "" });
  const keys = ui.editing !== null ? " type a note   Enter keep   Esc cancel" : " ↑/↓ j/k select   a approve   d deny   n note   q quit";
  const frame = [...body, { text: ui.message ? ` ${cleanLine(ui.message)}` : "", style: "yellow" as Style }, { text: keys, style: "inverse" as Style }];
  return frame.map((l) => {
    const t = fit(l.text, width);
    return l.style ? paint(color, l.style, t) : t;
  });
}
