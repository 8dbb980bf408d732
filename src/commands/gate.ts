import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { stateArgs } from "./_shared.ts";

// Internal: the per-bottle gate, started by `up` (src/supervise/gate.ts).
// GateSecrets arrive as one JSON document on stdin; policy.json is re-read
// on SIGHUP (`allow`/`deny`).
export default defineCommand({
  meta: commandMeta("gate"),
  args: {
    ...stateArgs,
    listen: { type: "string", description: "Also listen on 127.0.0.1:PORT (tests, benchmarks)" },
  },
  async run({ args }) {
    const [{ runGate }, { registerBuiltinVhosts }] = await Promise.all([import("../gate/main.ts"), import("../vhosts.ts")]);
    await registerBuiltinVhosts();
    await runGate({ stateDir: String(args.state), listen: args.listen ? String(args.listen) : undefined });
  },
});
