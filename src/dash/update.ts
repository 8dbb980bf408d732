import { LIMITS } from "../requests/schema.ts";
import type { Key } from "./keys.ts";
import type { Snapshot } from "./model.ts";
import type { UiState } from "./render.ts";

// The dashboard's key handling as a pure step: UI state + key -> new UI
// state and, maybe, something for the effectful loop to do.

export type Action = { kind: "quit" } | { kind: "answer"; id: string; decision: "approved" | "denied"; note: string | null };

export function update(ui: UiState, key: Key, snap: Snapshot): { ui: UiState; action: Action | null } {
  if (key.kind === "interrupt") return { ui, action: { kind: "quit" } };
  const current = snap.pending[ui.selected]?.request.id ?? null;

  if (ui.editing !== null) {
    switch (key.kind) {
      case "enter": {
        const notes = { ...ui.notes };
        if (current) {
          if (ui.editing.trim()) notes[current] = ui.editing.trim();
          else delete notes[current];
        }
        return { ui: { ...ui, notes, editing: null, message: current ? `note kept for ${current}; a = approve, d = deny` : null }, action: null };
      }
      case "escape":
        return { ui: { ...ui, editing: null, message: "note discarded" }, action: null };
      case "backspace":
        return { ui: { ...ui, editing: [...ui.editing].slice(0, -1).join("") }, action: null };
      case "char":
        if ([...ui.editing].length >= LIMITS.note) return { ui, action: null };
        return { ui: { ...ui, editing: ui.editing + key.ch }, action: null };
      default:
        return { ui, action: null };
    }
  }

  const n = snap.pending.length;
  const move = (d: number) => ({ ui: { ...ui, selected: n === 0 ? 0 : (ui.selected + d + n) % n, message: null }, action: null });
  switch (key.kind) {
    case "up":
      return move(-1);
    case "down":
      return move(1);
    case "char":
      switch (key.ch) {
        case "k":
          return move(-1);
        case "j":
          return move(1);
        case "q":
          return { ui, action: { kind: "quit" } };
        case "n":
          if (!current) return { ui: { ...ui, message: "no request selected" }, action: null };
          return { ui: { ...ui, editing: ui.notes[current] ?? "", message: null }, action: null };
        case "a":
        case "d":
          if (!current) return { ui: { ...ui, message: "no request selected" }, action: null };
          return { ui, action: { kind: "answer", id: current, decision: key.ch === "a" ? "approved" : "denied", note: ui.notes[current] ?? null } };
      }
      return { ui, action: null };
    default:
      return { ui, action: null };
  }
}
