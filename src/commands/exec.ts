import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { slugArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("exec"),
  args: { ...slugArgs },
  async run({ args, rawArgs }) {
    const [{ execCommand }, { realBackends }, { bottleHome }] = await Promise.all([
      import("../launch/attach.ts"),
      import("../launch/backends.ts"),
      import("../state/paths.ts"),
    ]);
    // Everything after `--` is the command, verbatim (its own flags too).
    const i = rawArgs.indexOf("--");
    const argv = i >= 0 ? rawArgs.slice(i + 1) : rawArgs.filter((a) => a !== String(args.slug)).slice(0);
    process.exitCode = await execCommand(bottleHome(), String(args.slug), argv, realBackends);
  },
});
