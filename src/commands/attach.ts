import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "attach", description: "Attach to the agent of a running bottle" },
  args: { slug: { type: "positional", required: true, description: "Bottle (see 'claude-bottle ls')" } },
  async run({ args }) {
    const [{ attachCommand }, { realBackends }, { bottleHome }] = await Promise.all([
      import("../launch/commands.ts"),
      import("../launch/backends.ts"),
      import("../state/paths.ts"),
    ]);
    process.exit(await attachCommand(bottleHome(), String(args.slug), realBackends));
  },
});
