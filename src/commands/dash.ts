import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";

export default defineCommand({
  meta: commandMeta("dash"),
  args: {
    once: { type: "boolean", description: "Print one plain-text frame and exit (no terminal needed)" },
  },
  async run({ args }) {
    const [{ bottleHome }, app, { UserError }] = await Promise.all([
      import("../state/paths.ts"),
      import("../dash/app.ts"),
      import("../errors.ts"),
    ]);
    if (args.once) {
      process.stdout.write(app.onceFrame(bottleHome(), process.stdout.columns || 120, process.stdout.rows || 40));
      return;
    }
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new UserError("dash needs a terminal; use 'claude-bottle dash --once' or 'claude-bottle requests' in scripts");
    }
    await app.runDash(bottleHome());
  },
});
