import type { EgressRoute } from "../../manifest/schema.ts";
import type { Decision, GatePolicy, RequestFacts } from "../types.ts";
import { normalizeHost } from "./normalize.ts";
import { normalizePath, pathMatches } from "./path.ts";

// The gate's decision: a pure function of the request facts and the policy.
//
// Route selection, in order:
//  1. The host picks a *tier*: the most specific host pattern that matches
//     (exact names and IP literals first, then wildcards with more labels
//     before fewer). Less specific patterns are not consulted at all, so
//     `api.x.com` with `methods: [GET]` is not widened by a broader
//     `*.x.com` route: a specific route is how a user narrows a wildcard.
//  2. Within the tier, routes are tried in manifest order; the first whose
//     port, method and path all match wins.
//  3. If none matches, the reason comes from the route that got furthest
//     (port < plain http on a credential route < method < path), the
//     first such route on a tie.
// CONNECT is only checked for host and port: methods and paths are checked
// on the requests inside the tunnel once TLS is terminated. A `passthrough`
// route cannot see inside, so a CONNECT that would land on a passthrough
// route with method or path restrictions is refused.
//
// Credentials travel only over TLS the gate verified: a route with `auth`
// never matches a plain-http request (absolute-form http://, or plain HTTP
// inside a CONNECT tunnel), whatever its ports, and without `ports` it means
// 443 only. The request is refused rather than sent without the
// credential: the bottle would otherwise put its placeholder on the wire in
// clear.

export const RESERVED_SUFFIX = "bottle.internal";

type Pattern = { kind: "exact"; host: string } | { kind: "wildcard"; suffix: string; labels: number };

interface CompiledRoute {
  route: EgressRoute;
  pattern: Pattern;
  // null = any method / any path.
  methods: Set<string> | null;
  paths: string[] | null;
  ports: number[] | null;
}

interface Tier {
  key: string;
  pattern: Pattern;
  routes: CompiledRoute[];
}

export interface CompiledPolicy {
  exact: Map<string, Tier>;
  // Most labels first.
  wildcards: Tier[];
}

// Compiles a route host pattern. Returns null for a pattern that can never
// match (invalid, or naming the reserved `bottle.internal` space).
export function compileHostPattern(raw: string): Pattern | null {
  if (raw.startsWith("*.")) {
    const n = normalizeHost(raw.slice(2));
    if (!n.ok || n.isIp) return null;
    return { kind: "wildcard", suffix: n.host, labels: n.host.split(".").length };
  }
  const n = normalizeHost(raw);
  if (!n.ok) return null;
  return { kind: "exact", host: n.host };
}

// The part of a request's host that the policy chose, not the bottle: the
// route's exact host, or the suffix of its wildcard. DLP looks for
// random-looking labels only left of it.
export function policyPart(route: EgressRoute): string | null {
  const p = compileHostPattern(route.host);
  return p === null ? null : p.kind === "exact" ? p.host : p.suffix;
}

function isReserved(host: string): boolean {
  return host === RESERVED_SUFFIX || host.endsWith("." + RESERVED_SUFFIX);
}

export function compilePolicy(policy: GatePolicy): CompiledPolicy {
  const exact = new Map<string, Tier>();
  const wild = new Map<string, Tier>();
  for (const route of policy.routes) {
    const pattern = compileHostPattern(route.host);
    if (!pattern) continue; // fail closed: a route we cannot read allows nothing
    const paths = route.paths
      ? route.paths.flatMap((p) => {
          const n = normalizePath(p);
          return n.ok ? [n.path + (p.endsWith("/") && !n.path.endsWith("/") ? "/" : "")] : [];
        })
      : null;
    if (paths && paths.length === 0) continue; // every path invalid: matches nothing
    const compiled: CompiledRoute = {
      route,
      pattern,
      methods: route.methods ? new Set(route.methods.map((m) => m.toUpperCase())) : null,
      paths,
      ports: route.ports && route.ports.length > 0 ? route.ports : null,
    };
    const key = pattern.kind === "exact" ? pattern.host : pattern.suffix;
    const map = pattern.kind === "exact" ? exact : wild;
    let tier = map.get(key);
    if (!tier) {
      tier = { key, pattern, routes: [] };
      map.set(key, tier);
    }
    tier.routes.push(compiled);
  }
  const wildcards = [...wild.values()].sort(
    (a, b) => (b.pattern as { labels: number }).labels - (a.pattern as { labels: number }).labels,
  );
  return { exact, wildcards };
}

const cache = new WeakMap<GatePolicy, CompiledPolicy>();

function compiledFor(policy: GatePolicy): CompiledPolicy {
  let c = cache.get(policy);
  if (!c) {
    c = compilePolicy(policy);
    cache.set(policy, c);
  }
  return c;
}

function findTier(c: CompiledPolicy, host: string, isIp: boolean): Tier | null {
  const t = c.exact.get(host);
  if (t) return t;
  if (isIp) return null; // wildcards never match IP literals
  for (const w of c.wildcards) {
    // Any depth of subdomain, never the apex itself.
    if (host.length > w.key.length + 1 && host.endsWith("." + w.key)) return w;
  }
  return null;
}

// Without `ports`: https on 443, plain http on 80, and a CONNECT to a
// terminated route on either (plain HTTP inside a tunnel is how proxy
// agents send http:// URLs; each request inside is then checked as http or
// https). A passthrough tunnel or a credential route: 443 only.
function defaultPorts(route: EgressRoute, facts: RequestFacts): number[] {
  if (route.auth) return [443];
  if (facts.method === "CONNECT") return route.tls === "passthrough" ? [443] : [443, 80];
  return facts.scheme === "https" ? [443] : [80];
}

// RFC 9110 token characters.
const METHOD_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

// Printable form of client-supplied text for reasons (which end up in 403
// bodies and the audit log): bounded and without control characters.
function printable(s: string, max = 100): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
  return clean.length > max ? clean.slice(0, max) + "…" : clean;
}

export function decide(facts: RequestFacts, policy: GatePolicy): Decision {
  const n = normalizeHost(facts.host);
  if (!n.ok) return { allow: false, reason: `invalid host: ${n.reason}`, host: printable(facts.host) };
  const host = n.host;
  const deny = (reason: string): Decision => ({ allow: false, reason, host });

  if (isReserved(host)) return deny("reserved name");
  if (!Number.isInteger(facts.port) || facts.port < 1 || facts.port > 65535) {
    return deny(`invalid port: ${printable(String(facts.port), 20)}`);
  }
  const method = facts.method;
  if (typeof method !== "string" || !METHOD_RE.test(method)) return deny("invalid method");
  const isConnect = method === "CONNECT";

  const tier = findTier(compiledFor(policy), host, n.isIp);
  if (!tier) return deny(n.isIp ? `IP literal not allowed: ${host}` : `host not in allowlist: ${host}`);

  let path: string | null = null;
  let encodedSlash = false;
  if (!isConnect) {
    if (facts.path === null) return deny("missing request path");
    const np = normalizePath(facts.path);
    if (!np.ok) return deny(`${np.reason} for ${host}`);
    path = np.path;
    encodedSlash = np.encodedSlash;
  }

  let best: { depth: number; reason: string } | null = null;
  const fail = (depth: number, reason: string): void => {
    if (!best || depth > best.depth) best = { depth, reason };
  };
  for (const r of tier.routes) {
    // A plain-http request on a credential route's own port (or any port
    // of a route without `ports`) is refused for what it is, not for its
    // port.
    const plainOnCredential = r.route.auth !== undefined && facts.scheme !== "https" && !isConnect;
    const ports = r.ports ?? (plainOnCredential ? [facts.port] : defaultPorts(r.route, facts));
    if (!ports.includes(facts.port)) {
      fail(0, `port ${facts.port} not allowed for ${host}`);
      continue;
    }
    if (plainOnCredential) {
      fail(1, `plain http to ${host}: its credential is only sent over https`);
      continue;
    }
    if (isConnect) {
      if (r.route.tls === "passthrough" && (r.methods || r.paths)) {
        fail(2, `tls passthrough cannot enforce methods/paths for ${host}`);
        continue;
      }
      return { allow: true, route: r.route, host };
    }
    if (r.methods && !r.methods.has(method)) {
      fail(2, `method ${printable(method, 32)} not allowed for ${host}`);
      continue;
    }
    // Path rules cannot be checked against a path whose segments depend on
    // the server's reading of %2f (path.ts): refused, not guessed.
    if (r.paths && encodedSlash) {
      fail(2, `encoded slash in path for ${host} (its path rules cannot be checked against it)`);
      continue;
    }
    if (r.paths && !r.paths.some((p) => pathMatches(p, path!))) {
      fail(3, `path ${printable(path!)} not allowed for ${host}`);
      continue;
    }
    return { allow: true, route: r.route, host };
  }
  return deny((best as { reason: string } | null)?.reason ?? `host not in allowlist: ${host}`);
}

// Whether the gate injects a credential into some request to `host`: a
// route of the tier the host selects carries `auth` (whatever its ports,
// methods or paths). Every response from such a host goes through the
// response guard, on its routes without auth too: the host has learnt the
// value and may hand it back on any of them.
export function hostGetsCredential(host: string, policy: GatePolicy): boolean {
  const n = normalizeHost(host);
  if (!n.ok) return false;
  const tier = findTier(compiledFor(policy), n.host, n.isIp);
  return tier !== null && tier.routes.some((r) => r.route.auth !== undefined);
}

// Whether some request to host:port over `scheme` could still be allowed:
// the host's tier has a route on that port (methods and paths aside; a
// credential route never for plain http). What an open upstream connection
// needs to stay open across a policy reload; the route returned is the
// first such one.
export function reachable(host: string, port: number, scheme: "http" | "https", policy: GatePolicy): Decision {
  const n = normalizeHost(host);
  if (!n.ok) return { allow: false, reason: `invalid host: ${n.reason}`, host: printable(host) };
  if (isReserved(n.host)) return { allow: false, reason: "reserved name", host: n.host };
  const tier = findTier(compiledFor(policy), n.host, n.isIp);
  if (!tier) return { allow: false, reason: n.isIp ? `IP literal not allowed: ${n.host}` : `host not in allowlist: ${n.host}`, host: n.host };
  const facts: RequestFacts = { host: n.host, port, method: "GET", path: "/", scheme };
  for (const r of tier.routes) {
    if (r.route.auth && scheme !== "https") continue;
    if ((r.ports ?? defaultPorts(r.route, facts)).includes(port)) return { allow: true, route: r.route, host: n.host };
  }
  return { allow: false, reason: `port ${port} not allowed for ${n.host}`, host: n.host };
}
