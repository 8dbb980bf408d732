import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "logs", description: "Show a bottle's gate decisions (allowed and blocked requests)" },
  args: {
    slug: { type: "positional", required: true, description: "Bottle slug (see claude-bottle ls)" },
    follow: { type: "boolean", alias: "f", description: "Keep printing new decisions" },
    json: { type: "boolean", description: "Print the raw JSON lines" },
  },
  async run({ args }) {
    const [{ stateDirFor }, view, { paths }] = await Promise.all([
      import("../policy/store.ts"),
      import("../gate/audit-view.ts"),
      import("../state/paths.ts"),
    ]);
    const file = paths.audit(stateDirFor(String(args.slug)));
    const json = Boolean(args.json);
    const print = (line: string) => {
      const out = view.formatLine(line, json);
      if (out !== null) process.stdout.write(out + "\n");
    };
    if (!json) process.stdout.write(view.HEADER + "\n");
    const offset = view.readLines(file, 0, print);
    if (!args.follow) return;
    const stop = view.follow(file, offset, print);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    stop();
    process.exit(0);
  },
});
