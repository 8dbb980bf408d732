import { formatIPv4, parseIp } from "./ip.ts";

// SSRF / DNS-rebinding guard: the gate resolves upstream names itself and
// refuses to dial an address that is not on the public internet, unless the
// route explicitly allows private addresses (route.allow_private; the server
// checks that flag, this function only classifies).
//
// Returns a short reason when `ip` must not be dialed, null when it is
// public. Anything that does not parse as an IP address is refused too
// (fail closed).

type V4Range = [base: number, prefix: number, reason: string];

const v4 = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

// Order matters only for the reason text: the more specific entry first.
const V4_RANGES: V4Range[] = [
  [v4(169, 254, 169, 254), 32, "cloud metadata address"],
  [v4(255, 255, 255, 255), 32, "broadcast address"],
  [v4(0, 0, 0, 0), 8, "unspecified / this-network address"],
  [v4(10, 0, 0, 0), 8, "private address (RFC 1918)"],
  [v4(100, 64, 0, 0), 10, "shared address space (CGNAT, RFC 6598)"],
  [v4(127, 0, 0, 0), 8, "loopback address"],
  [v4(169, 254, 0, 0), 16, "link-local address"],
  [v4(172, 16, 0, 0), 12, "private address (RFC 1918)"],
  [v4(192, 0, 0, 0), 24, "IETF protocol assignment (RFC 6890)"],
  [v4(192, 0, 2, 0), 24, "documentation address (TEST-NET-1)"],
  [v4(192, 88, 99, 0), 24, "6to4 relay anycast address"],
  [v4(192, 168, 0, 0), 16, "private address (RFC 1918)"],
  [v4(198, 18, 0, 0), 15, "benchmarking address (RFC 2544)"],
  [v4(198, 51, 100, 0), 24, "documentation address (TEST-NET-2)"],
  [v4(203, 0, 113, 0), 24, "documentation address (TEST-NET-3)"],
  [v4(224, 0, 0, 0), 4, "multicast address"],
  [v4(240, 0, 0, 0), 4, "reserved address (240/4)"],
];

export function inV4(addr: number, base: number, prefix: number): boolean {
  if (prefix === 0) return true;
  const mask = prefix === 32 ? 0xffffffff : (~0 << (32 - prefix)) >>> 0;
  return ((addr & mask) >>> 0) === ((base & mask) >>> 0);
}

export function forbiddenV4(addr: number): string | null {
  for (const [base, prefix, reason] of V4_RANGES) {
    if (inV4(addr, base, prefix)) return reason;
  }
  return null;
}

// Checks the first `bits` bits of the 8 16-bit groups `g` against `prefix`.
export function inV6(g: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; bits > 0; i++, bits -= 16) {
    const want = prefix[i] ?? 0;
    const have = g[i]!;
    if (bits >= 16) {
      if (have !== want) return false;
    } else {
      const mask = (0xffff << (16 - bits)) & 0xffff;
      if ((have & mask) !== (want & mask)) return false;
    }
  }
  return true;
}

const embedded = (hi: number, lo: number): number => ((hi << 16) | lo) >>> 0;

function embeddedReason(kind: string, addr: number): string | null {
  const r = forbiddenV4(addr);
  return r === null ? null : `${kind} of ${formatIPv4(addr)}: ${r}`;
}

export function forbiddenV6(g: number[]): string | null {
  if (g.every((x) => x === 0)) return "unspecified address";
  if (inV6(g, [0, 0, 0, 0, 0, 0, 0, 1], 128)) return "loopback address";
  // Forms that carry an IPv4 address and reach it: judge the IPv4 inside.
  if (inV6(g, [0, 0, 0, 0, 0, 0xffff], 96)) return embeddedReason("IPv4-mapped address", embedded(g[6]!, g[7]!));
  if (inV6(g, [0, 0, 0, 0, 0xffff, 0], 96)) return embeddedReason("IPv4-translated address", embedded(g[6]!, g[7]!));
  if (inV6(g, [0, 0, 0, 0, 0, 0], 96)) {
    // IPv4-compatible (deprecated); kernels may still route them.
    return embeddedReason("IPv4-compatible address", embedded(g[6]!, g[7]!)) ?? "IPv4-compatible address (deprecated)";
  }
  if (inV6(g, [0x64, 0xff9b], 96)) return embeddedReason("NAT64 address", embedded(g[6]!, g[7]!));
  if (inV6(g, [0x64, 0xff9b, 1], 48)) return "local-use NAT64 address";
  if (inV6(g, [0x2002], 16)) return embeddedReason("6to4 address", embedded(g[1]!, g[2]!));
  if (inV6(g, [0x2001, 0], 32)) return "Teredo address";
  if (inV6(g, [0x100], 64)) return "discard-only address";
  if (inV6(g, [0x2001, 0x10], 28)) return "ORCHID address";
  if (inV6(g, [0x2001, 0x20], 28)) return "ORCHIDv2 address";
  if (inV6(g, [0x2001, 0xdb8], 32)) return "documentation address";
  if (inV6(g, [0x3fff], 20)) return "documentation address";
  if (inV6(g, [0xfc00], 7)) return "unique local address";
  if (inV6(g, [0xfe80], 10)) return "link-local address";
  if (inV6(g, [0xfec0], 10)) return "site-local address (deprecated)";
  if (inV6(g, [0xff00], 8)) return "multicast address";
  return null;
}

export function isForbiddenAddress(ip: string): string | null {
  const parsed = parseIp(ip);
  if (!parsed) return "not an IP address";
  return parsed.version === 4 ? forbiddenV4(parsed.v4) : forbiddenV6(parsed.groups);
}
