import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { slugArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("attach"),
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
