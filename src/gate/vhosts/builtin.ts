import { registerVhost } from "./index.ts";

// The virtual hosts shipped with claude-bottle, registered by the gate
// process at start (tests pass their own map to startGate instead). Loaded
// lazily: only the gate pays for git's modules.
export async function loadBuiltinVhosts(): Promise<string[]> {
  const { gitVhostFactory } = await import("./git.ts");
  registerVhost("git.bottle.internal", gitVhostFactory);
  const { superviseVhostFactory } = await import("./supervise.ts");
  registerVhost("supervise.bottle.internal", superviseVhostFactory);
  return ["git.bottle.internal", "supervise.bottle.internal"];
}
