import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { dryRunArgs, yesArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("cleanup"),
  args: {
    ...yesArgs,
    ...dryRunArgs,
    all: { type: "boolean", description: "Also remove labelled bottles that have no state in this home" },
  },
  async run({ args }) {
    const [{ cleanupCommand }, { realBackends }, { bottleHome }, { confirm }] = await Promise.all([
      import("../launch/cleanup.ts"),
      import("../launch/backends.ts"),
      import("../state/paths.ts"),
      import("../launch/tty.ts"),
    ]);
    process.exitCode = await cleanupCommand(bottleHome(), { yes: Boolean(args.yes), dryRun: Boolean(args["dry-run"]), all: Boolean(args.all) }, realBackends, {
      out: (s) => process.stdout.write(s),
      err: (l) => process.stderr.write(l + "\n"),
      confirm: (q) => confirm(q, "remove them"),
    });
  },
});
