import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { isForbiddenAddress } from "./policy/ssrf.ts";

// Dialing upstreams. The gate resolves names itself, checks every address
// it got against the SSRF rules, and then dials the checked address, never
// the name again: a second lookup could answer differently (DNS rebinding).
// TLS to the upstream is verified against the system roots with the host
// name as SNI and for the certificate check.

export type Resolved = { ok: true; address: string; family: 4 | 6 } | { ok: false; reason: string };

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

// Test-only: fixed answers for names ("name=ip,name2=ip"), so the escape
// suite and integration tests can give a local upstream a real-looking name
// without touching the host's resolver. The SSRF check still applies to
// these answers (a route must say allow_private for a loopback address).
export const HOSTS_ENV = "CLAUDE_BOTTLE_GATE_HOSTS";

function fixedHosts(): Map<string, string> {
  const m = new Map<string, string>();
  for (const pair of (process.env[HOSTS_ENV] ?? "").split(",")) {
    const [name, ip] = pair.split("=").map((s) => s.trim());
    if (name && ip && net.isIP(ip)) m.set(name.toLowerCase(), ip);
  }
  return m;
}
const fixed = fixedHosts();

const systemResolver: Resolver = (host) => {
  const ip = fixed.get(host);
  if (ip) return Promise.resolve([{ address: ip, family: net.isIP(ip) }]);
  return lookup(host, { all: true, verbatim: true });
};

export async function resolveUpstream(
  host: string,
  isIp: boolean,
  allowPrivate: boolean,
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
      return { ok: false, reason: `cannot resolve ${host} (${code})` };
    }
  }
  if (addrs.length === 0) return { ok: false, reason: `cannot resolve ${host}` };
  if (!allowPrivate) {
    // Every answer must be public: a name that mixes a public and a private
    // address is a rebinding attempt or a misconfiguration either way.
    for (const a of addrs) {
      const why = isForbiddenAddress(a.address);
      if (why) return { ok: false, reason: `${host} resolves to ${a.address}: ${why}` };
    }
  }
  const first = addrs[0]!;
  return { ok: true, address: first.address, family: first.family === 6 ? 6 : 4 };
}

// Test-only: an extra CA (PEM file) trusted for upstream TLS, so integration
// tests and benchmarks can run an HTTPS upstream with their own CA. The
// system roots stay trusted as well.
export const EXTRA_CA_ENV = "CLAUDE_BOTTLE_GATE_EXTRA_CA";

let cachedCa: { key: string | undefined; ca: string[] | undefined } | null = null;
function upstreamCa(): string[] | undefined {
  const path = process.env[EXTRA_CA_ENV];
  if (cachedCa && cachedCa.key === path) return cachedCa.ca;
  const ca = path ? [...tls.rootCertificates, readFileSync(path, "utf8")] : undefined;
  cachedCa = { key: path, ca };
  return ca;
}

export interface DialOptions {
  address: string;
  port: number;
  // Host name for SNI and certificate verification; null for none (plain).
  tlsHost: string | null;
  tlsHostIsIp?: boolean;
  timeoutMs: number;
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
        ca: upstreamCa(),
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
