import type { AuditRecord, GatePolicy, GateSecrets, VhostHandler } from "../types.ts";

// Names under bottle.internal are served by the gate itself. Each virtual
// host is a factory that builds its fetch-style handler from the bottle's
// policy; a factory may return null when the bottle does not use it (no git
// upstreams, supervise off), and then the name is unknown like any other.
// The registry keeps the gate independent of which vhosts exist: the git
// and supervise vhosts live with their features (src/git/vhost.ts,
// src/requests/vhost.ts) and are registered, each with the audit layer its
// exchanges are recorded under, by src/vhosts.ts.

export const INTERNAL_SUFFIX = "bottle.internal";

export type AuditLayer = AuditRecord["layer"];

export interface VhostContext {
  stateDir: string;
  policy: GatePolicy;
  secrets: GateSecrets;
  log: (msg: string) => void;
}

export type VhostFactory = (ctx: VhostContext) => VhostHandler | null | Promise<VhostHandler | null>;

export interface VhostRegistration {
  factory: VhostFactory;
  layer: AuditLayer;
}

// What startGate takes: a bare factory is audited under layer "gate".
export type VhostFactories =
  | Map<string, VhostFactory | VhostRegistration>
  | Record<string, VhostFactory | VhostRegistration>;

// A built vhost of one policy generation.
export interface Vhost {
  handle: VhostHandler;
  layer: AuditLayer;
}

const registry = new Map<string, VhostRegistration>();

export function registerVhost(name: string, factory: VhostFactory, layer: AuditLayer = "gate"): void {
  registry.set(name.toLowerCase(), { factory, layer });
}

// The given factories, or the registered ones when none are given.
export function vhostRegistrations(given?: VhostFactories): Map<string, VhostRegistration> {
  if (!given) return new Map(registry);
  const entries = given instanceof Map ? [...given] : Object.entries(given);
  return new Map(
    entries.map(([name, v]) => [name.toLowerCase(), typeof v === "function" ? { factory: v, layer: "gate" } : v]),
  );
}

export function isInternalHost(host: string): boolean {
  return host === INTERNAL_SUFFIX || host.endsWith("." + INTERNAL_SUFFIX);
}

// Build the handlers for one policy generation (called at start and reload).
export async function buildVhosts(
  registrations: Map<string, VhostRegistration>,
  ctx: VhostContext,
): Promise<Map<string, Vhost>> {
  const out = new Map<string, Vhost>();
  for (const [name, { factory, layer }] of registrations) {
    try {
      const h = await factory(ctx);
      if (h) out.set(name, { handle: h, layer });
    } catch (e) {
      ctx.log(`vhost ${name} failed to start: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}
