import { mkdirSync, watch, type FSWatcher } from "node:fs";
import { isUserError } from "../errors.ts";
import { answerRequest } from "../requests/answer.ts";
import { ensureRequestsDir, pruneRequests } from "../requests/store.ts";
import { paths } from "../state/paths.ts";
import { colorsFor } from "../ui/style.ts";
import { ESC_WAIT_MS, KeyReader, type Key } from "./keys.ts";
import { loadSnapshot, type Snapshot } from "./model.ts";
import { clampSelection, initialUi, renderFrame, type UiState } from "./render.ts";
import { openTerminal } from "./terminal.ts";
import { update } from "./update.ts";

// `claude-bottle dash`: the loop. Redraws when the request queue or a state
// dir changes (fs.watch) and on a 1 s timer (ages, countdowns, filesystems
// without change events), and after every key.

const TICK_MS = 1000;

export function onceFrame(home: string, cols = 120, rows = 40): string {
  return renderFrame(loadSnapshot(home), initialUi(), cols, rows, false, false).join("\n") + "\n";
}

export async function runDash(home: string): Promise<void> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const term = openTerminal(stdin, stdout);
  // NO_COLOR / FORCE_COLOR / TERM=dumb, as styleText decides for stdout.
  const color = colorsFor(stdout);
  let ui: UiState = initialUi();
  let snap: Snapshot = loadSnapshot(home);
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));

  const redraw = (reload: boolean) => {
    if (reload) snap = loadSnapshot(home);
    ui = clampSelection(ui, snap);
    term.draw(renderFrame(snap, ui, term.cols(), term.rows(), color));
  };

  // Coalesce bursts of change events into one redraw.
  let pending: ReturnType<typeof setTimeout> | null = null;
  const soon = () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      redraw(true);
    }, 50);
  };
  const watchers: FSWatcher[] = [];
  const tryWatch = (dir: string, recursive = false) => {
    try {
      const w = watch(dir, { recursive }, soon);
      w.on("error", () => w.close());
      watchers.push(w);
    } catch {
      /* the timer still refreshes */
    }
  };
  ensureRequestsDir(home);
  pruneRequests(home);
  mkdirSync(paths.stateRoot(home), { recursive: true, mode: 0o700 });
  tryWatch(paths.stateRoot(home), true);
  tryWatch(ensureRequestsDir(home));
  const timer = setInterval(() => redraw(true), TICK_MS);

  const reader = new KeyReader();
  let escWait: ReturnType<typeof setTimeout> | null = null;
  const onData = (buf: Buffer) => {
    if (escWait) clearTimeout(escWait);
    escWait = null;
    onKeys(reader.push(buf));
    if (reader.waiting) escWait = setTimeout(() => onKeys(reader.flush()), ESC_WAIT_MS);
  };
  const onKeys = (keys: Key[]) => {
    for (const key of keys) {
      const r = update(ui, key, snap);
      ui = r.ui;
      if (r.action?.kind === "quit") return finish();
      if (r.action?.kind === "answer") {
        const a = r.action;
        try {
          const res = answerRequest({ home, id: a.id, decision: a.decision, note: a.note });
          const notes = { ...ui.notes };
          delete notes[a.id];
          const reload = res.signal ? (res.signal.running ? `; gate ${res.signal.pid} reloaded` : "; applies when its gate starts") : "";
          ui = { ...ui, notes, message: `${a.decision === "approved" ? "approved" : "denied"} ${a.id}${res.answer.applied ? `: ${res.answer.applied}` : ""}${reload}` };
        } catch (e) {
          ui = { ...ui, message: isUserError(e) ? e.message : `error: ${(e as Error).message}` };
        }
        redraw(true);
        continue;
      }
    }
    redraw(false);
  };
  stdin.on("data", onData);
  const onResize = () => redraw(false);
  stdout.on("resize", onResize);
  const onSignal = () => finish();
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, onSignal);

  redraw(false);
  try {
    await finished;
  } finally {
    clearInterval(timer);
    if (pending) clearTimeout(pending);
    if (escWait) clearTimeout(escWait);
    for (const w of watchers) w.close();
    stdin.off("data", onData);
    stdout.off("resize", onResize);
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(s, onSignal);
    term.restore();
  }
}
