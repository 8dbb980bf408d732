import { openSync } from "node:fs";
import { ReadStream } from "node:tty";
import { UserError } from "../errors.ts";

// Questions go to stderr and answers come from /dev/tty, never stdin: stdin
// may be a pipe (a script feeding `exec`), and stdout may be captured
// (`up -d` prints the slug there).
//
// One ReadStream per process, paused between questions: a second stream
// on a second fd could have its first read raced by the previous one's
// still-pending read, and lose the keys typed.

let shared: ReadStream | null = null;

function tty(why: string): ReadStream {
  if (shared) return shared;
  let fd: number;
  try {
    fd = openSync("/dev/tty", "r");
  } catch {
    throw new UserError(why);
  }
  shared = new ReadStream(fd);
  return shared;
}

function idle(s: ReadStream): void {
  try {
    s.setRawMode(false);
  } catch {
    // not a tty any more
  }
  s.removeAllListeners("data");
  s.removeAllListeners("end");
  s.pause();
}

// Done asking (the launch proper begins): give the terminal back.
export function releaseTty(): void {
  if (!shared) return;
  idle(shared);
  shared.destroy();
  shared = null;
}

// One line, echoed (cooked mode: the terminal edits and echoes).
export async function askLine(question: string, why: string): Promise<string> {
  const s = tty(why);
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
      s.resume();
    });
  } finally {
    idle(s);
  }
}

export async function confirm(question: string): Promise<boolean> {
  const a = await askLine(`${question} [y/N] `, "no terminal to confirm on; pass --yes to launch without asking");
  return ["y", "yes"].includes(a.trim().toLowerCase());
}

// A secret, not echoed: raw mode, so we see each key. Ctrl-C / Ctrl-D
// restore the terminal and abort (nothing has been created yet when we ask).
export async function askSecret(prompt: string, name: string): Promise<string> {
  const s = tty(`env ${name} must be typed on a terminal, and there is none; run from a terminal or use \${HOST_VAR} in the manifest`);
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
      s.resume();
    });
  } finally {
    idle(s);
    process.stderr.write("\n");
  }
}
