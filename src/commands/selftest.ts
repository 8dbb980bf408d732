import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { backendArgs, doorArgs, jsonArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("selftest"),
  args: {
    ...backendArgs,
    ...doorArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const { runSelftest } = await import("../selftest/run.ts");
    const { renderTable } = await import("../selftest/report.ts");
    const { colorsFor } = await import("../ui/style.ts");
    const report = await runSelftest({
      backend: args.backend ? String(args.backend) : undefined,
      door: args.door ? String(args.door) : undefined,
      log: (l) => process.stderr.write(l + "\n"),
      baseImage: process.env.CLAUDE_BOTTLE_BASE_IMAGE,
    });
    process.stdout.write(args.json ? JSON.stringify(report, null, 2) + "\n" : renderTable(report, colorsFor(process.stdout)) + "\n");
    // Non-zero when any attack got through or was stopped by the wrong wall.
    process.exitCode = report.failed === 0 ? 0 : 1;
  },
});
