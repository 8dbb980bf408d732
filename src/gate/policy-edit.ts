import { existsSync, readFileSync } from "node:fs";
import { UserError } from "../errors.ts";
import type { EgressRoute } from "../manifest/schema.ts";
import { bottleHome, paths } from "../state/paths.ts";
import { readPolicy, writePolicy } from "./policy-file.ts";
import { decide } from "./policy/decide.ts";
import { normalizeHost } from "./policy/normalize.ts";
import type { GatePolicy } from "./types.ts";

// `claude-bottle allow` / `deny`: edit a bottle's policy.json and tell its
// running gate (SIGHUP). The edit itself is pure (allowHost, denyHost) so it
// is tested without a gate; applyEdit is the effectful edge.

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
  const same = policy.routes.some((r) => JSON.stringify(normRoute(r)) === JSON.stringify(normRoute(route)));
  if (same) return { policy, changed: false };
  return { policy: { ...policy, routes: [...policy.routes, route] }, changed: true };
}

function normRoute(r: EgressRoute) {
  return { h: safeCanon(r.host), m: r.methods ?? null, p: r.paths ?? null, po: r.ports ?? null, t: r.tls, d: r.dlp, a: r.auth ?? null, ap: r.allow_private };
}

function safeCanon(h: string): string {
  try {
    return canonicalPattern(h);
  } catch {
    return h;
  }
}

// Removes every route whose host pattern is `host` (same spelling after
// normalisation). Refuses when the host would still be reachable through a
// wider pattern: `deny` must mean the host is denied.
export function denyHost(policy: GatePolicy, rawHost: string): { policy: GatePolicy; removed: EgressRoute[] } {
  const host = canonicalPattern(rawHost);
  const removed = policy.routes.filter((r) => safeCanon(r.host) === host);
  const next = { ...policy, routes: policy.routes.filter((r) => safeCanon(r.host) !== host) };
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

export function stateDirFor(slug: string, env: Record<string, string | undefined> = process.env): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(slug)) throw new UserError(`'${slug}' is not a bottle slug; see 'claude-bottle ls'`);
  const dir = paths.stateDir(bottleHome(env), slug);
  if (!existsSync(paths.policy(dir))) throw new UserError(`no bottle '${slug}' (no ${paths.policy(dir)}); see 'claude-bottle ls'`);
  return dir;
}

export type SignalResult = { running: true; pid: number } | { running: false };

// SIGHUP to the gate named in gate.pid, if it is alive.
export function signalGate(stateDir: string): SignalResult {
  let pid: number;
  try {
    pid = Number(readFileSync(paths.gatePid(stateDir), "utf8").trim());
  } catch {
    return { running: false };
  }
  if (!Number.isInteger(pid) || pid <= 1) return { running: false };
  try {
    process.kill(pid, "SIGHUP");
    return { running: true, pid };
  } catch {
    return { running: false };
  }
}

// Read, edit, write atomically, signal. Returns what the edit returned and
// whether a running gate was told.
export function applyEdit<T extends { policy: GatePolicy }>(
  stateDir: string,
  edit: (p: GatePolicy) => T,
  changed: (r: T, before: GatePolicy) => boolean = (r, before) => r.policy !== before,
): { result: T; signal: SignalResult | null } {
  const before = readPolicy(stateDir);
  const result = edit(before);
  if (!changed(result, before)) return { result, signal: null };
  writePolicy(stateDir, result.policy);
  return { result, signal: signalGate(stateDir) };
}
