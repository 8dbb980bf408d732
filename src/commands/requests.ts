import { defineCommand } from "citty";
import { jsonArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "requests", description: "List what agents asked the operator for (supervise), pending first" },
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
