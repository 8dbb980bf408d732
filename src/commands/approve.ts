import { defineCommand } from "citty";
import { requestIdArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "approve", description: "Approve an agent's request (see claude-bottle requests); applies at once" },
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
