import { StringDecoder } from "node:string_decoder";

// Keyboard input of the dashboard, from raw-mode bytes. Arrow keys arrive as
// CSI (ESC [ A) or SS3 (ESC O A, application cursor mode, common over
// ssh/tmux); a lone ESC is the Escape key.

export type Key =
  | { kind: "up" }
  | { kind: "down" }
  | { kind: "enter" }
  | { kind: "escape" }
  | { kind: "backspace" }
  | { kind: "interrupt" } // Ctrl-C
  | { kind: "char"; ch: string };

// Pure: complete input in, key events out.
export function parseKeys(data: string): Key[] {
  return splitKeys(data, true).keys;
}

// `final` false: an escape sequence still open at the end of `data` is not
// a key yet; it comes back as `rest`, to be completed by the next read.
function splitKeys(data: string, final: boolean): { keys: Key[]; rest: string } {
  const keys: Key[] = [];
  let i = 0;
  while (i < data.length) {
    const c = data[i]!;
    if (c === "\x1b") {
      const next = data[i + 1];
      if (!final && (next === undefined || ((next === "[" || next === "O") && !/[@-~]/.test(data.slice(i + 2))))) {
        return { keys, rest: data.slice(i) };
      }
      if ((next === "[" || next === "O") && i + 2 < data.length) {
        // Skip parameters up to the final byte (@..~).
        let j = i + 2;
        while (j < data.length && !/[@-~]/.test(data[j]!)) j++;
        const last = data[j];
        if (last === "A") keys.push({ kind: "up" });
        else if (last === "B") keys.push({ kind: "down" });
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
  return { keys, rest: "" };
}

// A terminal's reads need not end where a key does: an arrow key's three
// bytes or a UTF-8 character can be split between two reads (over ssh, or
// when the dashboard is slow to read). Parsed per read, ESC [ B split after
// the ESC was the Escape key, then '[' and 'B', and the arrow was lost. The
// reader keeps an unfinished sequence or character for the next read; an
// ESC that nothing completes is the Escape key once the caller stops
// waiting (flush, after ESC_WAIT_MS, as curses waits ESCDELAY).
export const ESC_WAIT_MS = 50;

export class KeyReader {
  private readonly utf8 = new StringDecoder("utf8");
  private rest = "";

  push(chunk: Buffer): Key[] {
    const r = splitKeys(this.rest + this.utf8.write(chunk), false);
    this.rest = r.rest;
    return r.keys;
  }

  // An escape sequence is waiting for its next byte.
  get waiting(): boolean {
    return this.rest !== "";
  }

  // What is waiting, taken as complete (a lone ESC: the Escape key).
  flush(): Key[] {
    const keys = parseKeys(this.rest);
    this.rest = "";
    return keys;
  }
}
