// The one live status line on the terminal (a spinner: backends/docker/
// progress.ts). Lines printed while it is drawn must go above it: written
// straight to stderr they would land after the spinner's text, on its line.
// Module state, because the spinner and the launcher's messages are
// different writers on the same terminal.

interface Live {
  clear(): void;
  redraw(): void;
}

let live: Live | null = null;

export function setStatusLine(l: Live | null): void {
  live = l;
}

// Writes `text` (whole lines) above the live status line, if there is one.
export function writeAbove(write: (s: string) => void, text: string): void {
  if (live === null) return write(text);
  live.clear();
  write(text);
  live.redraw();
}
