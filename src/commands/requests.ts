import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { jsonArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("requests"),
  args: {
    ...jsonArgs,
    all: { type: "boolean", description: "Include answered and expired requests" },
  },
  async run({ args }) {
    const [{ listRequests, pruneRequests }, fmt, { bottleHome }] = await Promise.all([
      import("../requests/store.ts"),
      import("../requests/format.ts"),
      import("../state/paths.ts"),
    ]);
    const now = new Date();
    pruneRequests(bottleHome(), now);
    const entries = listRequests(bottleHome(), now).filter((e) => args.all || e.status === "pending");
    process.stdout.write(args.json ? fmt.requestsJson(entries) : fmt.requestsTable(entries, now));
  },
});
