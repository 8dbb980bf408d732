import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { slugArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("deny"),
  args: {
    ...slugArgs,
    host: { type: "positional", required: true, description: "Host name or *.domain, as allowed" },
  },
  async run({ args }) {
    const [{ denyHost }, { applyEdit, stateDirFor }] = await Promise.all([import("../policy/edit.ts"), import("../policy/store.ts")]);
    const stateDir = stateDirFor(String(args.slug));
    const { result, signal } = applyEdit(stateDir, (p) => denyHost(p, String(args.host)), (r) => r.removed.length > 0);
    if (!signal) process.stdout.write(`${args.host} was not allowed\n`);
    else
      process.stdout.write(
        `denied ${args.host} (${result.removed.length} route${result.removed.length === 1 ? "" : "s"} removed)` +
          (signal.running ? `; gate ${signal.pid} reloaded\n` : "; takes effect when the bottle's gate starts\n"),
      );
  },
});
