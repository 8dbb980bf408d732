#!/usr/bin/env bun
import { isUserError } from "./errors.ts";
import { versionLine } from "./version.ts";

// The entry point stays small: `--version` and `--help` answer without
// evaluating citty or any command (citty alone imports node:util: about a
// millisecond and a JIT thread per process, measured on 1.4.4). Everything
// else loads commands/main.ts.

// The top-level usage as citty renders it, baked in by the build
// (scripts/lib/compile.ts renderHelp, with colour); undefined from source.
declare const BUILD_HELP: string | undefined;

// Usage text is coloured on the rule every other output follows (README,
// "Output"): only on a terminal; NO_COLOR (or NODE_DISABLE_COLORS, TERM=dumb)
// turns it off; FORCE_COLOR (not "0") forces it into a pipe. That is
// styleText's rule for stdout, checked with isatty so that neither
// node:util nor Bun's process.stdout stream is created for --help. citty's
// own rule (its _color.ts: NO_COLOR=1, TERM=dumb, TEST, CI) still applies on
// top, as citty colours its text by it.
function cittyNoColor(): boolean {
  const env = process.env;
  return env.NO_COLOR === "1" || env.TERM === "dumb" || !!env.TEST || !!env.CI;
}

// Whether stdout is a terminal, without node:tty: it loads node:net and
// cost --version and --help about 3 ms each (bench:startup, bun 1.4.4).
// A terminal is a character device; a pipe or a file is not. The other
// character devices (/dev/null) show nothing either way.
// (Bun.stdout.stat: node:fs alone cost another millisecond.)
async function stdoutIsTty(): Promise<boolean> {
  try {
    return (await Bun.stdout.stat()).isCharacterDevice();
  } catch {
    return false;
  }
}

export async function usageColour(env: Record<string, string | undefined> = process.env, tty: () => Promise<boolean> = stdoutIsTty): Promise<boolean> {
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== "0";
  if (env.NO_COLOR !== undefined || env.NODE_DISABLE_COLORS !== undefined || env.TERM === "dumb") return false;
  return tty();
}

const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

// process.exitCode, never process.exit(): Bun can drop what is still
// buffered for a piped stdout when the process exits on the spot.
function fail(message: string, code: number): void {
  process.stderr.write(`claude-bottle: ${message}\n`);
  process.exitCode = code;
}

export async function runCli(argv: string[]): Promise<void> {
  // `--debug` is ours only before `--` (after it, it is the command's).
  const cut = argv.indexOf("--");
  const debug = (cut === -1 ? argv : argv.slice(0, cut)).includes("--debug") || process.env.CLAUDE_BOTTLE_DEBUG === "1";
  const rawArgs = argv.filter((a, i) => a !== "--debug" || (cut !== -1 && i > cut));
  if (rawArgs[0] === "--version" || rawArgs[0] === "-v" || rawArgs[0] === "version") {
    // console.log, not process.stdout.write: creating Bun's process.stdout
    // stream costs several ms of start-up (measured on 1.4.4), and this is
    // the one thing --version does.
    console.log(versionLine());
    return;
  }
  if (rawArgs.length === 0 || rawArgs[0] === "--help" || rawArgs[0] === "-h" || rawArgs[0] === "help") {
    const text = typeof BUILD_HELP === "string" ? BUILD_HELP : await (await import("./commands/main.ts")).renderTopUsage();
    // What citty's showUsage prints: the usage, then a blank line.
    console.log((cittyNoColor() || !(await usageColour()) ? stripAnsi(text) : text) + "\n");
    return;
  }
  const cli = await import("./commands/main.ts");
  // Only flags before `--` are ours: `exec <slug> -- curl -h` runs curl -h.
  const dashes = rawArgs.indexOf("--");
  const own = dashes === -1 ? rawArgs : rawArgs.slice(0, dashes);
  if (own.includes("--help") || own.includes("-h")) {
    if (!(await cli.showCommandUsage(rawArgs[0]!, (await usageColour()) ? (t) => t : stripAnsi))) fail(`unknown command '${rawArgs[0]}'; run 'claude-bottle --help' for the list`, 2);
    return;
  }
  try {
    const bad = await cli.checkFlags(own);
    if (bad !== null) return fail(bad, 2);
    await cli.run(rawArgs);
  } catch (e) {
    if (debug) {
      console.error(e);
      process.exitCode = isUserError(e) ? e.exitCode : 1;
      return;
    }
    if (isUserError(e)) return fail(e.message, e.exitCode);
    // citty colours names in its messages; an error line is plain text.
    const msg = stripAnsi(e instanceof Error ? e.message : String(e));
    if (/^Unknown command/i.test(msg)) return fail(`${msg}; run 'claude-bottle --help' for the list`, 2);
    if (/^Missing required (positional )?argument/i.test(msg)) return fail(`${msg}; see 'claude-bottle ${rawArgs[0]} --help'`, 2);
    fail(`internal error: ${msg.split("\n")[0]} (run again with --debug for details)`, 1);
  }
}

if (import.meta.main) {
  await runCli(process.argv.slice(2));
}
