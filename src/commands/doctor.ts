import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";

export default defineCommand({
  meta: commandMeta("doctor"),
  args: {},
  async run() {
    const { doctorReport } = await import("../backends/select.ts");
    const report = doctorReport(process.env);
    process.stdout.write(report.text);
    if (!report.ok) process.exitCode = 1;
  },
});
