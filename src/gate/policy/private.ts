import { parsePrivateEntry } from "../../manifest/private-address.ts";
import type { EgressRoute } from "../../manifest/schema.ts";
import { mappedIPv4, parseIp, type ParsedIp } from "./ip.ts";
import { inV4, inV6 } from "./ssrf.ts";

// Which private, loopback or link-local addresses a route may dial
// (`allow_private`), as the gate applies it after resolving a name:
//   - false: none;
//   - a list: the addresses and blocks it names, each on its port or any;
//   - true: all of them, on an exact host only. On a wildcard route `true`
//     gives nothing: any name the bottle makes up under it could resolve to
//     any private address (a rebinding to the host's own services). A
//     manifest cannot say it (schema.ts); a hand-written policy.json that
//     does fails closed here.
// An entry the gate cannot read allows nothing.

interface Block {
  ip: ParsedIp;
  prefix: number;
  port: number | null;
}

export type PrivateAllowance = { kind: "none" } | { kind: "all" } | { kind: "listed"; blocks: Block[] };

const NONE: PrivateAllowance = { kind: "none" };
const cache = new WeakMap<EgressRoute, PrivateAllowance>();

export function privateAllowance(route: EgressRoute): PrivateAllowance {
  const a = route.allow_private;
  if (a === true) return route.host.startsWith("*.") ? NONE : { kind: "all" };
  if (!Array.isArray(a)) return NONE;
  let c = cache.get(route);
  if (!c) {
    const blocks: Block[] = [];
    for (const raw of a) {
      const e = parsePrivateEntry(raw);
      if ("error" in e) continue;
      const ip = parseIp(e.address);
      if (ip) blocks.push({ ip, prefix: e.prefix, port: e.port });
    }
    c = { kind: "listed", blocks };
    cache.set(route, c);
  }
  return c;
}

// May a route with this allowance dial `address` (a forbidden one: the
// caller checked it is not public) on `port`?
export function privateAllowed(allow: PrivateAllowance, address: string, port: number): boolean {
  if (allow.kind !== "listed") return allow.kind === "all";
  let ip = parseIp(address);
  if (!ip) return false;
  // A resolver may hand back an IPv4 address as IPv4-mapped IPv6.
  if (ip.version === 6) {
    const v4 = mappedIPv4(ip.groups);
    if (v4 !== null) ip = { version: 4, v4 };
  }
  for (const b of allow.blocks) {
    if (b.port !== null && b.port !== port) continue;
    if (b.ip.version === 4 && ip.version === 4 && inV4(ip.v4, b.ip.v4, b.prefix)) return true;
    if (b.ip.version === 6 && ip.version === 6 && inV6(ip.groups, b.ip.groups, b.prefix)) return true;
  }
  return false;
}

// Text for the pool key and the logs: what a connection was checked under.
export function allowanceKey(allow: PrivateAllowance, route: EgressRoute): string {
  return allow.kind === "listed" ? JSON.stringify(route.allow_private) : allow.kind;
}
