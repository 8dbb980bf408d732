import type { GatePolicy, GateSecrets, VhostHandler } from "../types.ts";

// Names under bottle.internal are served by the gate itself. Each virtual
// host is a factory that builds its fetch-style handler from the bottle's
// policy; a factory may return null when the bottle does not use it (no git
// upstreams, supervise off), and then the name is unknown like any other.
// The registry keeps the server independent of which vhosts exist: the git
// and supervise modules register themselves (see builtin.ts).

export const INTERNAL_SUFFIX = "bottle.internal";

export interface VhostContext {
  stateDir: string;
  policy: GatePolicy;
  secrets: GateSecrets;
  log: (msg: string) => void;
}

export type VhostFactory = (ctx: VhostContext) => VhostHandler | null | Promise<VhostHandler | null>;

const registry = new Map<string, VhostFactory>();

export function registerVhost(name: string, factory: VhostFactory): void {
  registry.set(name.toLowerCase(), factory);
}

export function registeredVhosts(): Map<string, VhostFactory> {
  return new Map(registry);
}

export function isInternalHost(host: string): boolean {
  return host === INTERNAL_SUFFIX || host.endsWith("." + INTERNAL_SUFFIX);
}

// Build the handlers for one policy generation (called at start and reload).
export async function buildVhosts(
  factories: Map<string, VhostFactory>,
  ctx: VhostContext,
): Promise<Map<string, VhostHandler>> {
  const out = new Map<string, VhostHandler>();
  for (const [name, f] of factories) {
    try {
      const h = await f(ctx);
      if (h) out.set(name, h);
    } catch (e) {
      ctx.log(`vhost ${name} failed to start: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}
