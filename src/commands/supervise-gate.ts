import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { stateArgs } from "./_shared.ts";

// Internal: started by `up -d`, never by hand. Reads GateSecrets on stdin.
export default defineCommand({
  meta: commandMeta("supervise-gate"),
  args: { ...stateArgs },
  async run({ args }) {
    const [{ runSupervisor }, { readMetadata }] = await Promise.all([import("../supervise/supervisor.ts"), import("../state/metadata.ts")]);
    const stateDir = String(args.state);
    const secrets = JSON.parse(await new Response(Bun.stdin.stream()).text());
    const slug = readMetadata(stateDir)?.slug ?? stateDir.split("/").pop()!;
    await runSupervisor({ stateDir, slug, secrets });
  },
});
