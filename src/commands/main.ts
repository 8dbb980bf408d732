import { defineCommand, renderUsage, runCommand, type ArgDef } from "citty";
import { commandMeta, commands, commandStubs } from "./registry.ts";

// The root command and what cli.ts needs of citty, loaded only when a
// command runs (or its own --help is asked for): `--version` and the
// compiled binary's top-level `--help` never evaluate citty.
export const main = defineCommand({
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

// The top-level usage from the registry's table: no command module is
// loaded. The build renders it once (scripts/lib/help.ts) and bakes it in.
export function renderTopUsage(): Promise<string> {
  return renderUsage({ ...main, subCommands: commandStubs() });
}

// What citty's showUsage prints (the usage, then a blank line), through the
// caller's colour rule.
export async function showCommandUsage(name: string, paint: (text: string) => string): Promise<boolean> {
  const load = commands[name];
  if (!load) return false;
  console.log(paint(await renderUsage(await load(), main)) + "\n");
  return true;
}

// The first flag the named command does not declare, as a usage error's
// message (commands/flags.ts); null when all are known or the command is
// not one of ours (citty reports that) or is internal plumbing.
export async function checkFlags(own: readonly string[]): Promise<string | null> {
  const name = own[0];
  const load = name === undefined ? undefined : commands[name];
  if (!load || commandMeta(name!).hidden) return null;
  const cmd = await load();
  const args = (typeof cmd.args === "function" ? await cmd.args() : await cmd.args) ?? {};
  const { unknownFlag } = await import("./flags.ts");
  return unknownFlag(name!, args as Record<string, ArgDef>, own.slice(1));
}

export function run(rawArgs: string[]): Promise<unknown> {
  return runCommand(main, { rawArgs });
}
