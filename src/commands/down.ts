import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { slugArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("down"),
  args: {
    slug: { ...slugArgs.slug, required: false },
    all: { type: "boolean", description: "Stop every bottle" },
  },
  async run({ args }) {
    const [{ downCommand }, { realBackends }, { bottleHome }] = await Promise.all([
      import("../launch/down.ts"),
      import("../launch/backends.ts"),
      import("../state/paths.ts"),
    ]);
    const slug = args.slug ? String(args.slug) : undefined;
    process.exitCode = await downCommand(bottleHome(), { slug, all: Boolean(args.all) }, realBackends, (l) => process.stderr.write(l + "\n"));
  },
});
