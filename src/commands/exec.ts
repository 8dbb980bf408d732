import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "exec", description: "Run a command in a running bottle: exec <slug> -- <command...> (exit code passed through)" },
  args: { slug: { type: "positional", required: true, description: "Bottle (see 'claude-bottle ls')" } },
  async run({ args, rawArgs }) {
    const [{ execCommand }, { realBackends }, { bottleHome }] = await Promise.all([
      import("../launch/commands.ts"),
      import("../launch/backends.ts"),
      import("../state/paths.ts"),
    ]);
    // Everything after `--` is the command, verbatim (its own flags too).
    const i = rawArgs.indexOf("--");
    const argv = i >= 0 ? rawArgs.slice(i + 1) : rawArgs.filter((a) => a !== String(args.slug)).slice(0);
    process.exit(await execCommand(bottleHome(), String(args.slug), argv, realBackends));
  },
});
