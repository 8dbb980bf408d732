import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "doctor", description: "Check what each backend needs on this machine and how to install what is missing" },
  args: {},
  async run() {
    const { doctorReport } = await import("../backends/select.ts");
    const report = doctorReport(process.env);
    process.stdout.write(report.text);
    if (!report.ok) process.exitCode = 1;
  },
});
