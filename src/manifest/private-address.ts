
// `allow_private` entries: the private or loopback addresses a route may
// reach, each an address or a CIDR block, optionally with the one port it
// opens:
//   10.0.0.5   10.0.0.5:5432   192.168.1.0/24   192.168.1.0/24:5432
//   fd00::1    fd00::/8        [fd00::1]:443    [fd00::/8]:443
// Strict, one spelling per thing: dotted-quad IPv4 only (no 0x7f.1, no
// 2130706433), an IPv6 address with a port in brackets, no IPv4-mapped IPv6
// (name the IPv4 address), and no block broader than /8 (IPv4) or /7
// (IPv6): a list that opens everything is not a scalpel. The gate matches
// resolved addresses against these (gate/policy/private.ts).

export interface PrivateEntry {
  address: string;
  version: 4 | 6;
  prefix: number;
  port: number | null;
}

export const PRIVATE_ENTRY_HINT = "an IP address or CIDR, optionally with :port (10.0.0.5, 192.168.1.0/24:5432, [fd00::1]:443)";

// node:net's own test of an address, loaded on the first entry: allow_private
// lists are rare, and importing node:net cost every `up` (which builds this
// schema) about 2 ms of start-up.
function ipVersion(address: string): 0 | 4 | 6 {
  const net = require("node:net") as typeof import("node:net");
  return net.isIPv4(address) ? 4 : net.isIPv6(address) ? 6 : 0;
}

export function parsePrivateEntry(raw: string): PrivateEntry | { error: string } {
  const bad = { error: `must be ${PRIVATE_ENTRY_HINT}` };
  let body = raw;
  let portText: string | null = null;
  if (raw.startsWith("[")) {
    const close = raw.indexOf("]");
    if (close < 0) return bad;
    body = raw.slice(1, close);
    const after = raw.slice(close + 1);
    if (after !== "") {
      if (!after.startsWith(":")) return bad;
      portText = after.slice(1);
    }
    if (!body.includes(":")) return bad; // brackets are for IPv6 only
  } else if (!raw.includes(":") || /^[0-9./]+:[0-9]+$/.test(raw)) {
    // IPv4, with an optional port.
    const colon = raw.indexOf(":");
    if (colon >= 0) {
      body = raw.slice(0, colon);
      portText = raw.slice(colon + 1);
    }
  }
  const slash = body.indexOf("/");
  const address = slash < 0 ? body : body.slice(0, slash);
  const version = ipVersion(address);
  if (version === 0) return bad;
  if (version === 6 && /^::ffff:/i.test(address)) return { error: "must name an IPv4 address as IPv4, not as IPv4-mapped IPv6" };
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = body.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p)) return bad;
    prefix = Number(p);
    const min = version === 4 ? 8 : 7;
    if (prefix < min || prefix > max) return { error: `must have a prefix from /${min} to /${max} (IPv${version}): name the addresses, not everything` };
  }
  let port: number | null = null;
  if (portText !== null) {
    if (!/^[0-9]{1,5}$/.test(portText)) return bad;
    port = Number(portText);
    if (port < 1 || port > 65535) return { error: "must have a port from 1 to 65535" };
  }
  return { address, version, prefix, port };
}
