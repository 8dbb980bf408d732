#!/usr/bin/env bun
import { defineCommand, runCommand, showUsage } from "citty";
import { commands, commandStubs } from "./commands/registry.ts";
import { isUserError } from "./errors.ts";
import { versionLine } from "./version.ts";

const main = defineCommand({
  meta: {
    name: "claude-bottle",
    description: "Run a coding agent in a sealed bottle whose only way out is a per-bottle gate.",
  },
  args: {
    debug: { type: "boolean", description: "Show stack traces on errors" },
    version: { type: "boolean", description: "Print version, commit and build target" },
  },
  subCommands: commands,
});

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
    // stream costs a few ms of start-up (measured on 1.4.4), and this is
    // the one thing --version does.
    console.log(versionLine());
    return;
  }
  if (rawArgs.length === 0 || rawArgs[0] === "--help" || rawArgs[0] === "-h" || rawArgs[0] === "help") {
    // The list from the registry's table: no command module is loaded.
    await showUsage({ ...main, subCommands: commandStubs() });
    return;
  }
  // Only flags before `--` are ours: `exec <slug> -- curl -h` runs curl -h.
  const dashes = rawArgs.indexOf("--");
  const own = dashes === -1 ? rawArgs : rawArgs.slice(0, dashes);
  if (own.includes("--help") || own.includes("-h")) {
    const name = rawArgs[0]!;
    const load = commands[name];
    if (!load) return fail(`unknown command '${name}'; run 'claude-bottle --help' for the list`, 2);
    await showUsage(await load(), main);
    return;
  }
  try {
    await runCommand(main, { rawArgs });
  } catch (e) {
    if (debug) {
      console.error(e);
      process.exitCode = isUserError(e) ? e.exitCode : 1;
      return;
    }
    if (isUserError(e)) return fail(e.message, e.exitCode);
    const msg = e instanceof Error ? e.message : String(e);
    if (/^Unknown command/i.test(msg)) return fail(`${msg}; run 'claude-bottle --help' for the list`, 2);
    if (/^Missing required (positional )?argument/i.test(msg)) return fail(`${msg}; see 'claude-bottle ${rawArgs[0]} --help'`, 2);
    fail(`internal error: ${msg.split("\n")[0]} (run again with --debug for details)`, 1);
  }
}

if (import.meta.main) {
  await runCli(process.argv.slice(2));
}
