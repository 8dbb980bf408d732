import { defineCommand } from "citty";
import { slugArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "attach", description: "Attach to the agent of a running bottle" },
  args: { ...slugArgs },
  async run({ args }) {
    const [{ attachCommand }, { realBackends }, { bottleHome }] = await Promise.all([
      import("../launch/attach.ts"),
      import("../launch/backends.ts"),
      import("../state/paths.ts"),
    ]);
    process.exitCode = await attachCommand(bottleHome(), String(args.slug), realBackends);
  },
});
