import { registerVhost } from "./index.ts";

// The virtual hosts shipped with claude-bottle, registered by the gate
// process at start (tests pass their own map to startGate instead). Loaded
// lazily: only the gate pays for their modules. Each factory returns null
// when the bottle does not use it, and the name is then unknown (403).
export async function loadBuiltinVhosts(): Promise<string[]> {
  const [{ gitVhostFactory }, { superviseVhostFactory, SUPERVISE_HOST }] = await Promise.all([
    import("./git.ts"),
    import("./supervise.ts"),
  ]);
  registerVhost("git.bottle.internal", gitVhostFactory);
  registerVhost(SUPERVISE_HOST, superviseVhostFactory);
  return ["git.bottle.internal", SUPERVISE_HOST];
}
