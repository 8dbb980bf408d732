import { defineCommand } from "citty";

export default defineCommand({
  meta: { name: "resume", description: "Relaunch a bottle whose agent exited non-zero, with the same slug, CA and policy" },
  args: {
    slug: { type: "positional", required: true, description: "Bottle (see 'claude-bottle ls')" },
    detach: { type: "boolean", alias: "d", description: "Start detached; attach later with 'claude-bottle attach'" },
  },
  async run({ args }) {
    const [{ runResume }, { bottleHome }] = await Promise.all([import("../launch/run.ts"), import("../state/paths.ts")]);
    process.exit(await runResume(bottleHome(), String(args.slug), Boolean(args.detach)));
  },
});
