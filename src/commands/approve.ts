import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { requestIdArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("approve"),
  args: {
    ...requestIdArgs,
    note: { type: "string", description: "Text for the agent (the answer, for a 'stuck' report)" },
    "allow-private": { type: "boolean", description: "Egress: let the host resolve to private/loopback addresses (LAN services)" },
  },
  async run({ args }) {
    const { answerFromCli } = await import("../requests/cli.ts");
    const note = typeof args.note === "string" ? args.note : undefined;
    process.stdout.write(answerFromCli(String(args.id), "approved", note, Boolean(args["allow-private"])));
  },
});
