// The terminal edge of the dashboard: raw mode, the alternate screen, a
// hidden cursor, and putting them all back however the program ends
// (q, Ctrl-C in raw mode, SIGINT/SIGTERM/SIGHUP from outside, an exception).

const ENTER = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
const LEAVE = "\x1b[0m\x1b[?25h\x1b[?1049l";

export interface Terminal {
  cols(): number;
  rows(): number;
  draw(lines: string[]): void;
  restore(): void;
}

export function openTerminal(stdin: NodeJS.ReadStream, stdout: NodeJS.WriteStream): Terminal {
  let restored = false;
  stdin.setRawMode(true);
  stdin.resume();
  stdout.write(ENTER);
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      stdout.write(LEAVE);
    } catch {
      /* the terminal may be gone (ssh dropped) */
    }
    try {
      stdin.setRawMode(false);
    } catch {
      /* same */
    }
    stdin.pause();
  };
  // Last resort: whatever ends the process, the terminal is left usable.
  process.once("exit", restore);
  return {
    cols: () => stdout.columns || 80,
    rows: () => stdout.rows || 24,
    // Home, then each line followed by "clear to end of line"; no full
    // clear, so a redraw does not flicker.
    draw(lines) {
      stdout.write("\x1b[H" + lines.map((l) => l + "\x1b[K").join("\r\n") + "\x1b[J");
    },
    restore,
  };
}
