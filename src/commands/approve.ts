import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { requestIdArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("approve"),
  args: {
    ...requestIdArgs,
    note: { type: "string", description: "Text for the agent (the answer, for a 'stuck' report)" },
    "allow-private": { type: "boolean", description: "Egress: let an exact host reach every private/loopback address (not for a *.wildcard)" },
    "private-address": {
      type: "string",
      description: "Egress: the private/loopback addresses the host may reach, comma-separated (10.0.0.5,192.168.1.0/24:5432,[fd00::1]:443)",
    },
  },
  async run({ args }) {
    const { answerFromCli } = await import("../requests/cli.ts");
    const { UserError } = await import("../errors.ts");
    const note = typeof args.note === "string" ? args.note : undefined;
    const listed = typeof args["private-address"] === "string" ? args["private-address"].split(",").map((s) => s.trim()) : null;
    if (listed && args["allow-private"]) throw new UserError("give --allow-private (every private address) or --private-address (the ones listed), not both");
    process.stdout.write(answerFromCli(String(args.id), "approved", note, listed ?? Boolean(args["allow-private"])));
  },
});
