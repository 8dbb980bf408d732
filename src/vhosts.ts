import { registerVhost } from "./gate/vhosts/index.ts";

// The virtual hosts shipped with claude-bottle, registered by the gate
// command before the gate starts (tests pass their own to startGate). This
// is the one place that wires features into the gate: the gate core imports
// neither git/ nor requests/, and they reach it only through the registry.
// Loaded lazily: only the gate process pays for these modules. Each factory
// returns null when the bottle does not use it, and the name is then
// unknown (403).
export async function registerBuiltinVhosts(): Promise<string[]> {
  const [{ GIT_VHOST }, { gitVhostFactory }, { superviseVhostFactory, SUPERVISE_HOST }] = await Promise.all([
    import("./git/gitconfig.ts"),
    import("./git/vhost.ts"),
    import("./requests/vhost.ts"),
  ]);
  registerVhost(GIT_VHOST, gitVhostFactory, "git");
  registerVhost(SUPERVISE_HOST, superviseVhostFactory, "supervise");
  return [GIT_VHOST, SUPERVISE_HOST];
}
