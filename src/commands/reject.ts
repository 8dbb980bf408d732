import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { requestIdArgs } from "./_shared.ts";

// Named `reject`, not `deny`: `claude-bottle deny <slug> <host>` removes a
// host from a bottle's policy; requests are approved or rejected.
export default defineCommand({
  meta: commandMeta("reject"),
  args: {
    ...requestIdArgs,
    note: { type: "string", description: "Text for the agent (why, or what to do instead)" },
  },
  async run({ args }) {
    const { answerFromCli } = await import("../requests/cli.ts");
    const note = typeof args.note === "string" ? args.note : undefined;
    process.stdout.write(answerFromCli(String(args.id), "denied", note, false));
  },
});
