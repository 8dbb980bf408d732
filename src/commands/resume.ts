import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { detachArgs, doorArgs, slugArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("resume"),
  args: {
    ...slugArgs,
    ...detachArgs,
    ...doorArgs,
  },
  async run({ args }) {
    const [{ runResume }, { bottleHome }] = await Promise.all([import("../launch/run.ts"), import("../state/paths.ts")]);
    process.exitCode = await runResume(bottleHome(), String(args.slug), Boolean(args.detach), args.door ? String(args.door) : undefined);
  },
});
