import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { jsonArgs, slugArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("logs"),
  args: {
    ...slugArgs,
    follow: { type: "boolean", alias: "f", description: "Keep printing new decisions" },
    ...jsonArgs,
  },
  async run({ args }) {
    const [{ stateDirFor }, view, { paths }, { colorsFor }] = await Promise.all([
      import("../policy/store.ts"),
      import("../gate/audit-view.ts"),
      import("../state/paths.ts"),
      import("../ui/style.ts"),
    ]);
    const file = paths.audit(stateDirFor(String(args.slug)));
    const json = Boolean(args.json);
    const color = colorsFor(process.stdout);
    const print = (line: string) => {
      const out = view.formatLine(line, json, color);
      if (out !== null) process.stdout.write(out + "\n");
    };
    if (!json) process.stdout.write(view.HEADER + "\n");
    const offset = view.readLines(file, 0, print);
    if (!args.follow) return;
    const stop = view.follow(file, offset, print);
    // Ctrl-C ends --follow normally (exit 0): the handlers go, so nothing
    // keeps the process alive.
    await new Promise<void>((resolve) => {
      const done = () => {
        process.off("SIGINT", done);
        process.off("SIGTERM", done);
        resolve();
      };
      process.on("SIGINT", done);
      process.on("SIGTERM", done);
    });
    stop();
  },
});
