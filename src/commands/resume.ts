import { defineCommand } from "citty";
import { detachArgs, slugArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "resume", description: "Relaunch a bottle whose agent exited non-zero, with the same slug, CA and policy" },
  args: {
    ...slugArgs,
    ...detachArgs,
  },
  async run({ args }) {
    const [{ runResume }, { bottleHome }] = await Promise.all([import("../launch/run.ts"), import("../state/paths.ts")]);
    process.exitCode = await runResume(bottleHome(), String(args.slug), Boolean(args.detach));
  },
});
