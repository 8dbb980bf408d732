import type { RequestHead } from "./http/head.ts";
import { headerValue } from "./http/head.ts";
import { normalizeHost, splitHostPort } from "./policy/normalize.ts";

// Where a request goes. Pure: a parsed head and the tunnel it came through
// in, a target or the reason to refuse out.
//
// Outside a tunnel only absolute-form http:// is a proxy request. Inside a
// tunnel the CONNECT target is authoritative: the Host header (and an
// absolute-form target) must name the same host and port, or the request is
// refused. A tunnel that carries plain HTTP (no TLS handshake came) is held
// to the same, and its requests are http (port 80 is then the default).

// The CONNECT target a terminated tunnel was opened for (host normalised).
export interface Tunnel {
  host: string;
  isIp: boolean;
  port: number;
  // Plain HTTP inside (no TLS handshake came): its requests are http.
  plain?: boolean;
}

export interface Target {
  scheme: "http" | "https";
  host: string;
  isIp: boolean;
  port: number;
  // Origin-form path + query sent upstream.
  pathAndQuery: string;
  // Value of the Host header upstream.
  authority: string;
}

// 400: the request is malformed; 403: it names a host it may not.
export type TargetRefusal = { status: number; reason: string };

export function targetOf(head: RequestHead, tunnel: Tunnel | null): Target | TargetRefusal {
  const target = head.target;
  if (!tunnel) {
    const m = /^http:\/\/([^/?#]*)([^#]*)$/i.exec(target);
    if (!m) {
      if (/^https:\/\//i.test(target)) return { status: 400, reason: "https:// requests must use CONNECT" };
      return { status: 400, reason: "not a proxy request (absolute-form http:// URL or CONNECT expected)" };
    }
    const hp = splitHostPort(m[1]!, 80);
    if (!hp) return { status: 400, reason: "invalid host in request URL" };
    const n = normalizeHost(hp.host);
    if (!n.ok) return { status: 403, reason: `invalid host: ${n.reason}` };
    const pq = m[2] === "" ? "/" : m[2]!.startsWith("?") ? "/" + m[2] : m[2]!;
    return { scheme: "http", host: n.host, isIp: n.isIp, port: hp.port, pathAndQuery: pq, authority: m[1]! };
  }
  const scheme = tunnel.plain ? "http" : "https";
  let pq: string;
  if (target.startsWith("/")) pq = target;
  else if (target === "*" && head.method === "OPTIONS") pq = "*";
  else {
    const m = (tunnel.plain ? /^http:\/\/([^/?#]*)([^#]*)$/i : /^https:\/\/([^/?#]*)([^#]*)$/i).exec(target);
    if (!m) return { status: 400, reason: "invalid request target inside tunnel" };
    const mismatch = authorityMismatch(m[1]!, tunnel);
    if (mismatch) return { status: 403, reason: mismatch };
    pq = m[2] === "" ? "/" : m[2]!;
  }
  const host = headerValue(head.headers, "host");
  if (host === undefined) {
    if (head.version === "HTTP/1.1") return { status: 400, reason: "missing Host header" };
  } else {
    const mismatch = authorityMismatch(host, tunnel);
    if (mismatch) return { status: 403, reason: mismatch };
  }
  const authority = tunnel.port === defaultPort(tunnel) ? hostForHeader(tunnel) : `${hostForHeader(tunnel)}:${tunnel.port}`;
  return { scheme, host: tunnel.host, isIp: tunnel.isIp, port: tunnel.port, pathAndQuery: pq, authority };
}

// A host as it is written in a Host header (IPv6 literals in brackets).
export function hostForHeader(t: { host: string; isIp: boolean }): string {
  return t.isIp && t.host.includes(":") ? `[${t.host}]` : t.host;
}

// Null when `authority` (a Host header or absolute-form authority inside a
// tunnel) names the tunnel's host and port, else the reason to refuse.
const defaultPort = (tunnel: Tunnel): number => (tunnel.plain ? 80 : 443);

export function authorityMismatch(authority: string, tunnel: Tunnel): string | null {
  const hp = splitHostPort(authority, defaultPort(tunnel));
  const n = hp ? normalizeHost(hp.host) : null;
  if (!hp || !n || !n.ok) return "invalid Host header inside tunnel";
  if (n.host !== tunnel.host || hp.port !== tunnel.port) {
    return `Host ${n.host}:${hp.port} does not match CONNECT target ${tunnel.host}:${tunnel.port}`;
  }
  return null;
}
