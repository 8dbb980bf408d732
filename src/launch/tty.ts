import { closeSync, openSync, readSync } from "node:fs";
import { UserError } from "../errors.ts";

// Questions go to stderr and answers come from /dev/tty, never stdin: stdin
// may be a pipe (a script feeding `exec`), and stdout may be captured
// (`up -d` prints the slug there).
//
// Reads are synchronous on purpose. An async tty stream keeps a read
// pending in the background even after it is paused or destroyed, and that
// read then swallows the first line the user types to the agent. A blocking
// read takes exactly the answer and nothing after it. Nothing else runs
// while we wait for an answer anyway.

function openTty(why: string): number {
  try {
    return openSync("/dev/tty", "r");
  } catch {
    throw new UserError(why);
  }
}

function stty(fd: number, args: string[]): string | null {
  try {
    const r = Bun.spawnSync(["stty", ...args], { stdin: fd, stdout: "pipe", stderr: "ignore" });
    return r.exitCode === 0 ? r.stdout.toString().trim() : null;
  } catch {
    return null;
  }
}

// What the user types, as text, read by read until EOF. One decoder across
// reads: in raw mode the terminal hands bytes over as they come, so a
// multibyte character can arrive one byte per read and is still decoded
// whole.
function* typed(fd: number): Generator<string> {
  const buf = Buffer.alloc(4096);
  const dec = new TextDecoder();
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break; // EOF (Ctrl-D)
    yield dec.decode(buf.subarray(0, n), { stream: true });
  }
  const rest = dec.decode();
  if (rest) yield rest;
}

// One line, echoed (cooked mode: the terminal edits and echoes).
export function askLine(question: string, why: string): string {
  const fd = openTty(why);
  process.stderr.write(question);
  try {
    let line = "";
    for (const text of typed(fd)) {
      line += text;
      const i = line.indexOf("\n");
      if (i >= 0) return line.slice(0, i).replace(/\r$/, "");
    }
    return line;
  } finally {
    closeSync(fd);
  }
}

// `unasked` says what --yes does instead ("launch", "remove them"), for the
// error when there is no terminal to ask on.
export async function confirm(question: string, unasked: string): Promise<boolean> {
  const a = askLine(`${question} [y/N] `, `no terminal to confirm on; pass --yes to ${unasked} without asking`);
  return ["y", "yes"].includes(a.trim().toLowerCase());
}

// A secret, not echoed. The terminal goes to raw mode without signals, so
// Ctrl-C arrives here as a key: we restore the terminal and abort, instead
// of dying with echo turned off. Nothing has been created yet when we ask.
export async function askSecret(prompt: string, name: string): Promise<string> {
  const fd = openTty(`env ${name} must be typed on a terminal, and there is none; run from a terminal or use \${HOST_VAR} in the manifest`);
  const saved = stty(fd, ["-g"]);
  process.stderr.write(`${prompt}: `);
  try {
    if (saved === null || stty(fd, ["-echo", "-icanon", "-isig", "min", "1", "time", "0"]) === null) {
      throw new UserError(`cannot turn off echo on this terminal to ask for ${name}; use \${HOST_VAR} in the manifest instead`);
    }
    let value = "";
    for (const text of typed(fd)) {
      for (const ch of text) {
        if (ch === "\r" || ch === "\n") return value;
        if (ch === "\u0003" || ch === "\u0004") throw new UserError(`aborted at the prompt for ${name}`, 130);
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else if (ch >= " ") value += ch;
      }
    }
    return value;
  } finally {
    if (saved !== null) stty(fd, [saved]);
    closeSync(fd);
    process.stderr.write("\n");
  }
}
