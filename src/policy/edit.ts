import { UserError } from "../errors.ts";
import { decide } from "../gate/policy/decide.ts";
import { normalizeHost } from "../gate/policy/normalize.ts";
import type { GatePolicy } from "../gate/types.ts";
import type { EgressRoute } from "../manifest/schema.ts";

// `claude-bottle allow` / `deny` and approved requests: pure edits of a
// bottle's policy (tested without a gate). store.ts applies them to a
// state directory and tells the running gate.

export interface AllowOptions {
  methods?: string[];
  paths?: string[];
  ports?: number[];
}

// Canonical spelling of a host pattern ("*.X.com." -> "*.x.com").
export function canonicalPattern(raw: string): string {
  const wild = raw.startsWith("*.");
  const n = normalizeHost(wild ? raw.slice(2) : raw);
  if (!n.ok) throw new UserError(`'${raw}' is not a host name: ${n.reason}`);
  if (wild && n.isIp) throw new UserError(`'${raw}': a wildcard cannot cover an IP address`);
  if (n.host === "bottle.internal" || n.host.endsWith(".bottle.internal")) {
    throw new UserError(`'${raw}' is served by the gate itself and cannot be allowed or denied`);
  }
  return (wild ? "*." : "") + (n.isIp && n.host.includes(":") ? `[${n.host}]` : n.host);
}

// A route's pattern in canonical spelling, or as written when it cannot be
// canonicalised (a hand-edited policy): comparing never throws.
function canonicalOrAsIs(host: string): string {
  try {
    return canonicalPattern(host);
  } catch {
    return host;
  }
}

// Two routes are the same route when their keys are equal: the host
// pattern in canonical spelling and every other field as written.
export function routeKey(r: EgressRoute): string {
  return JSON.stringify([
    canonicalOrAsIs(r.host),
    r.methods ?? null,
    r.paths ?? null,
    r.ports ?? null,
    r.tls,
    r.dlp,
    r.auth ?? null,
    r.allow_private,
  ]);
}

export function allowHost(policy: GatePolicy, rawHost: string, opts: AllowOptions = {}): { policy: GatePolicy; changed: boolean } {
  const host = canonicalPattern(rawHost);
  const methods = opts.methods?.length ? [...new Set(opts.methods.map((m) => m.toUpperCase()))] : undefined;
  if (methods?.some((m) => !/^[A-Z]+$/.test(m))) throw new UserError("--methods takes HTTP method names such as GET,POST");
  const ps = opts.paths?.length ? [...new Set(opts.paths)] : undefined;
  if (ps?.some((p) => !p.startsWith("/"))) throw new UserError("--paths takes path prefixes starting with /, such as /v1/");
  const ports = opts.ports?.length ? [...new Set(opts.ports)] : undefined;
  if (ports?.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new UserError("--ports takes port numbers such as 443,8443");
  const route: EgressRoute = {
    host,
    ...(ports ? { ports } : {}),
    ...(methods ? { methods } : {}),
    ...(ps ? { paths: ps } : {}),
    tls: "terminate",
    dlp: "on",
    allow_private: false,
  };
  const key = routeKey(route);
  if (policy.routes.some((r) => routeKey(r) === key)) return { policy, changed: false };
  return { policy: { ...policy, routes: [...policy.routes, route] }, changed: true };
}

// Removes every route whose host pattern is `host` (same spelling after
// normalisation). Refuses when the host would still be reachable through a
// wider pattern: `deny` must mean the host is denied.
export function denyHost(policy: GatePolicy, rawHost: string): { policy: GatePolicy; removed: EgressRoute[] } {
  const host = canonicalPattern(rawHost);
  const removed = policy.routes.filter((r) => canonicalOrAsIs(r.host) === host);
  const next = { ...policy, routes: policy.routes.filter((r) => canonicalOrAsIs(r.host) !== host) };
  if (!host.startsWith("*.")) {
    const bare = host.replace(/^\[|\]$/g, "");
    const probes = [
      decide({ host: bare, port: 443, method: "CONNECT", path: null, scheme: "https" }, next),
      decide({ host: bare, port: 80, method: "GET", path: "/", scheme: "http" }, next),
    ];
    const still = probes.find((d) => d.allow);
    if (still && still.allow) {
      throw new UserError(
        `${host} would still be allowed by the route for '${still.route.host}'; deny that pattern instead (claude-bottle deny <slug> '${still.route.host}')`,
      );
    }
  }
  return { policy: next, removed };
}
