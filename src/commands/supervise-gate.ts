import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { stateArgs } from "./_shared.ts";

// Internal: started by `up -d`, never by hand. Reads GateSecrets on stdin.
export default defineCommand({
  meta: commandMeta("supervise-gate"),
  args: { ...stateArgs },
  async run({ args }) {
    const [{ runSupervisor }, { readMetadata }, { readSecrets }] = await Promise.all([
      import("../supervise/supervisor.ts"),
      import("../state/metadata.ts"),
      import("../gate/secrets.ts"),
    ]);
    const stateDir = String(args.state);
    const secrets = await readSecrets(Bun.stdin.stream());
    const meta = readMetadata(stateDir);
    const slug = meta?.slug ?? stateDir.split("/").pop()!;
    // Behind the bridge door, the bridge container is looked after too.
    let door = null;
    if (secrets.door && meta) {
      const { getBackend } = await import("../backends/registry.ts");
      door = (await getBackend(meta.backend)).doorKeeper?.(slug, stateDir, secrets.door.token) ?? null;
    }
    await runSupervisor({ stateDir, slug, secrets, door });
  },
});
