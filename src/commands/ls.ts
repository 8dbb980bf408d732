import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "ls", description: "List bottles: status, uptime and allowed/blocked requests" },
  args: { json: { type: "boolean", description: "Print JSON instead of a table" } },
  async run({ args }) {
    const [{ listRows, renderRows }, { realBackends }, { bottleHome }] = await Promise.all([
      import("../launch/commands.ts"),
      import("../launch/backends.ts"),
      import("../state/paths.ts"),
    ]);
    process.stdout.write(renderRows(await listRows(bottleHome(), realBackends), Boolean(args.json)));
  },
});
