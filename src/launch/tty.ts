import { closeSync, openSync } from "node:fs";
import { ReadStream } from "node:tty";
import { UserError } from "../errors.ts";

// Questions go to stderr and answers come from /dev/tty, never stdin: stdin
// may be a pipe (a script feeding `exec`), and stdout may be captured
// (`up -d` prints the slug there).

function openTty(why: string): { s: ReadStream; fd: number } {
  let fd: number;
  try {
    fd = openSync("/dev/tty", "r");
  } catch {
    throw new UserError(why);
  }
  return { s: new ReadStream(fd), fd };
}

function closeTty({ s, fd }: { s: ReadStream; fd: number }): void {
  try {
    s.setRawMode?.(false);
  } catch {
    // not a tty any more
  }
  s.pause();
  s.removeAllListeners("data");
  try {
    closeSync(fd);
  } catch {
    // closed
  }
}

// One line, echoed (cooked mode: the terminal edits and echoes).
export async function askLine(question: string, why: string): Promise<string> {
  const t = openTty(why);
  const s = t.s;
  process.stderr.write(question);
  try {
    return await new Promise<string>((resolve) => {
      let buf = "";
      s.on("data", (d: Buffer) => {
        buf += d.toString("utf8");
        const i = buf.indexOf("\n");
        if (i >= 0) resolve(buf.slice(0, i).replace(/\r$/, ""));
      });
      s.on("end", () => resolve(buf));
    });
  } finally {
    closeTty(t);
  }
}

export async function confirm(question: string): Promise<boolean> {
  const a = await askLine(`${question} [y/N] `, "no terminal to confirm on; pass --yes to launch without asking");
  return ["y", "yes"].includes(a.trim().toLowerCase());
}

// A secret, not echoed: raw mode, so we see each key. Ctrl-C restores the
// terminal and aborts (nothing has been created yet when we ask).
export async function askSecret(prompt: string, name: string): Promise<string> {
  const t = openTty(`env ${name} must be typed on a terminal, and there is none; run from a terminal or use \${HOST_VAR} in the manifest`);
  const s = t.s;
  process.stderr.write(`${prompt}: `);
  s.setRawMode(true);
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = "";
      s.on("data", (d: Buffer) => {
        for (const ch of d.toString("utf8")) {
          if (ch === "\r" || ch === "\n") return resolve(value);
          if (ch === "\u0003" || ch === "\u0004") return reject(new UserError(`aborted at the prompt for ${name}`, 130));
          if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
          else if (ch >= " ") value += ch;
        }
      });
      s.on("end", () => resolve(value));
    });
  } finally {
    closeTty(t);
    process.stderr.write("\n");
  }
}
