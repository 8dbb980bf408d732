// Keyboard input of the dashboard, from raw-mode bytes. Pure: a chunk of
// input in, key events out. Arrow keys arrive as CSI (ESC [ A) or SS3
// (ESC O A, application cursor mode, common over ssh/tmux); a lone ESC is
// the Escape key.

export type Key =
  | { kind: "up" }
  | { kind: "down" }
  | { kind: "enter" }
  | { kind: "escape" }
  | { kind: "backspace" }
  | { kind: "interrupt" } // Ctrl-C
  | { kind: "char"; ch: string };

export function parseKeys(data: string): Key[] {
  const keys: Key[] = [];
  let i = 0;
  while (i < data.length) {
    const c = data[i]!;
    if (c === "\x1b") {
      const next = data[i + 1];
      if ((next === "[" || next === "O") && i + 2 < data.length) {
        // Skip parameters up to the final byte (@..~).
        let j = i + 2;
        while (j < data.length && !/[@-~]/.test(data[j]!)) j++;
        const final = data[j];
        if (final === "A") keys.push({ kind: "up" });
        else if (final === "B") keys.push({ kind: "down" });
        // Other sequences (right/left, function keys) are ignored.
        i = j + 1;
        continue;
      }
      keys.push({ kind: "escape" });
      i++;
      continue;
    }
    if (c === "\r" || c === "\n") keys.push({ kind: "enter" });
    else if (c === "\x7f" || c === "\b") keys.push({ kind: "backspace" });
    else if (c === "\x03") keys.push({ kind: "interrupt" });
    else if (c >= " ") keys.push({ kind: "char", ch: c });
    i++;
  }
  return keys;
}
