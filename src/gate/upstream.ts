import { lookup } from "node:dns/promises";
import net from "node:net";
import tls from "node:tls";
import { privateAllowed, type PrivateAllowance } from "./policy/private.ts";
import { isForbiddenAddress } from "./policy/ssrf.ts";

// Dialing upstreams. The gate resolves names itself, checks every address
// it got against the SSRF rules, and then dials the checked address, never
// the name again: a second lookup could answer differently (DNS rebinding).
// TLS to the upstream is verified against Bun's bundled roots with the
// host name as SNI and for the certificate check.
//
// Nothing here reads the environment: which addresses a name dials and which
// CAs are trusted come only from the gate's options, which come from the
// document its launcher writes to its stdin (GateSecrets.upstream). Bun's own
// default trust store honours NODE_EXTRA_CA_CERTS, SSL_CERT_FILE and
// SSL_CERT_DIR (tried on 1.4.4), so every dial passes its CA list explicitly.

// A refusal says whether the name did not resolve (the upstream cannot be
// reached: a 502 with that reason, nothing was blocked) or resolved to an
// address the route may not dial (the SSRF rule: a 403 block).
export type Resolved =
  | { ok: true; address: string; family: 4 | 6 }
  | { ok: false; reason: string; unresolvable: boolean };

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

// Fixed answers for some names, the system resolver for the rest: how
// `claude-bottle selftest` gives its local recording upstream a real-looking
// name without touching the host's resolver. The SSRF check still applies
// to these answers (a route must name a loopback address in allow_private).
export function fixedResolver(hosts: Record<string, string>, fallback: Resolver = systemResolver): Resolver {
  const m = new Map<string, string>();
  for (const [name, ip] of Object.entries(hosts)) if (net.isIP(ip)) m.set(name.toLowerCase(), ip);
  return (host) => {
    const ip = m.get(host.toLowerCase());
    return ip ? Promise.resolve([{ address: ip, family: net.isIP(ip) }]) : fallback(host);
  };
}

// Resolves `host` and checks every address: public, or a private one the
// route's `allow_private` opens on `port` (policy/private.ts).
export async function resolveUpstream(
  host: string,
  isIp: boolean,
  port: number,
  allow: PrivateAllowance,
  resolver: Resolver = systemResolver,
): Promise<Resolved> {
  let addrs: { address: string; family: number }[];
  if (isIp) {
    addrs = [{ address: host, family: net.isIP(host) }];
  } else {
    try {
      addrs = await resolver(host);
    } catch (e) {
      const code = (e as { code?: string }).code ?? "lookup failed";
      return { ok: false, reason: `cannot resolve ${host} (${code})`, unresolvable: true };
    }
  }
  if (addrs.length === 0) return { ok: false, reason: `cannot resolve ${host}`, unresolvable: true };
  // Every answer must pass: a name that mixes a public and a private
  // address is a rebinding attempt or a misconfiguration either way.
  for (const a of addrs) {
    const why = isForbiddenAddress(a.address);
    if (why && !privateAllowed(allow, a.address, port)) {
      const listed = allow.kind === "listed" ? `, and not an address allow_private names for port ${port}` : "";
      return { ok: false, reason: `${host} resolves to ${a.address}: ${why}${listed}`, unresolvable: false };
    }
  }
  const first = addrs[0]!;
  return { ok: true, address: first.address, family: first.family === 6 ? 6 : 4 };
}

// The CAs upstream TLS is verified against: the bundled roots, plus the
// launcher's extra CA (PEM text; selftest's recording upstream, tests).
export function upstreamTrust(extraPem?: string): string[] {
  return extraPem ? [...tls.rootCertificates, extraPem] : [...tls.rootCertificates];
}
const BUNDLED = upstreamTrust();

export interface DialOptions {
  address: string;
  port: number;
  // Host name for SNI and certificate verification; null for none (plain).
  tlsHost: string | null;
  tlsHostIsIp?: boolean;
  timeoutMs: number;
  // Trusted CAs (default: the bundled roots only).
  ca?: string[];
}

export function dial(opts: DialOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    const ok = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.off("error", fail);
      resolve(sock);
    };
    let sock: net.Socket;
    if (opts.tlsHost !== null) {
      sock = tls.connect({
        host: opts.address,
        port: opts.port,
        // SNI must be a name; for an IP literal the certificate is checked
        // against the address itself.
        servername: opts.tlsHostIsIp ? undefined : opts.tlsHost,
        ca: opts.ca ?? BUNDLED,
        ALPNProtocols: ["http/1.1"],
        rejectUnauthorized: true,
        checkServerIdentity: (_h, cert) => tls.checkServerIdentity(opts.tlsHost!, cert),
      });
      sock.once("secureConnect", ok);
    } else {
      sock = net.connect({ host: opts.address, port: opts.port });
      sock.once("connect", ok);
    }
    sock.setNoDelay(true);
    sock.once("error", fail);
    const timer = setTimeout(() => fail(new Error(`connect timeout after ${opts.timeoutMs} ms`)), opts.timeoutMs);
  });
}
