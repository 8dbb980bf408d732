import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { jsonArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("ls"),
  args: { ...jsonArgs },
  async run({ args }) {
    const [{ listRows, renderRows }, { realBackends }, { bottleHome }] = await Promise.all([
      import("../launch/ls.ts"),
      import("../launch/backends.ts"),
      import("../state/paths.ts"),
    ]);
    process.stdout.write(renderRows(await listRows(bottleHome(), realBackends), Boolean(args.json)));
  },
});
