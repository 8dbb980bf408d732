// IP literal parsing and canonical formatting, shared by host normalisation
// (normalize.ts) and the SSRF address check (ssrf.ts).
//
// Why a hand-written parser: the gate must see an IP literal exactly the way
// the client's resolver would. curl, glibc's inet_aton and the WHATWG URL
// parser all accept "non-canonical" IPv4 spellings (2130706433, 0x7f.1,
// 0177.0.0.1, 127.1); if the gate only recognised dotted quads, `0x7f.1`
// would be treated as a host *name* and slip past the IP-literal rule.

// inet_aton semantics: 1 to 4 parts separated by dots; each part is decimal,
// 0x-hex or 0-octal; the last part fills all remaining bytes. Returns the
// address as an unsigned 32-bit number, or null when `s` is not an IPv4
// literal at all.
export function parseIPv4(s: string): number | null {
  if (s.length === 0 || s.length > 64) return null;
  const parts = s.split(".");
  if (parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    const n = parseIPv4Part(p);
    if (n === null) return null;
    nums.push(n);
  }
  let value = 0;
  for (let i = 0; i < nums.length - 1; i++) {
    const n = nums[i]!;
    if (n > 255) return null;
    value = value * 256 + n;
  }
  const last = nums[nums.length - 1]!;
  const restBytes = 4 - (nums.length - 1);
  if (last >= 2 ** (8 * restBytes)) return null;
  return value * 2 ** (8 * restBytes) + last;
}

function parseIPv4Part(p: string): number | null {
  if (p.length === 0) return null;
  let digits = p;
  let radix = 10;
  if (/^0[xX]/.test(p)) {
    digits = p.slice(2);
    radix = 16;
    // "0x" alone is 0 for inet_aton and WHATWG alike.
    if (digits.length === 0) return 0;
    if (!/^[0-9a-fA-F]+$/.test(digits)) return null;
  } else if (p.length > 1 && p[0] === "0") {
    digits = p.slice(1);
    radix = 8;
    if (!/^[0-7]+$/.test(digits)) return null;
  } else if (!/^[0-9]+$/.test(p)) {
    return null;
  }
  // Longer than any valid 32-bit value in any radix: reject before parseInt
  // loses precision.
  if (digits.replace(/^0+/, "").length > 11) return null;
  const n = parseInt(digits, radix);
  return Number.isFinite(n) && n <= 0xffffffff ? n : null;
}

// Does this look like something a resolver would try to read as IPv4 (every
// label numeric or 0x-hex)? Used to refuse names such as "1.2.3.4.5" or
// "0x1g.2" rather than treating them as DNS names (WHATWG URL refuses them
// too: a host whose last label is numeric must be a valid IPv4 address).
export function looksNumeric(s: string): boolean {
  const parts = s.split(".");
  const last = parts[parts.length - 1] === "" ? parts[parts.length - 2] : parts[parts.length - 1];
  return last !== undefined && /^(?:[0-9]+|0[xX][0-9a-fA-F]*)$/.test(last);
}

export function formatIPv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

// Strict dotted quad (used inside IPv6 literals, where only this form is
// legal).
function parseDottedQuad(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part[0] === "0") return null;
    const n = Number(part);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v;
}

// Parses an IPv6 literal without brackets or zone id. Returns 8 16-bit
// groups, or null.
export function parseIPv6(s: string): number[] | null {
  if (s.length < 2 || s.length > 45) return null;
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let tailV4: number | null = null;
  let body = s;
  const lastColon = s.lastIndexOf(":");
  if (s.indexOf(".") !== -1) {
    tailV4 = parseDottedQuad(s.slice(lastColon + 1));
    if (tailV4 === null) return null;
    body = s.slice(0, lastColon + 1) + "0:0"; // placeholder groups, replaced below
  }
  const dbl = body.indexOf("::");
  if (dbl !== -1 && body.indexOf("::", dbl + 1) !== -1) return null;
  const parseGroups = (str: string): number[] | null => {
    if (str === "") return [];
    const out: number[] = [];
    for (const g of str.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl === -1) {
    const g = parseGroups(body);
    if (!g || g.length !== 8) return null;
    groups = g;
  } else {
    const head = parseGroups(body.slice(0, dbl));
    const tail = parseGroups(body.slice(dbl + 2));
    if (!head || !tail) return null;
    const missing = 8 - head.length - tail.length;
    // "::" stands for at least one group.
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  }
  if (tailV4 !== null) {
    groups[6] = (tailV4 >>> 16) & 0xffff;
    groups[7] = tailV4 & 0xffff;
  }
  return groups;
}

// The IPv4 address embedded in an IPv4-mapped IPv6 address (::ffff:a.b.c.d),
// or null.
export function mappedIPv4(g: number[]): number | null {
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return ((g[6]! << 16) | g[7]!) >>> 0;
  }
  return null;
}

// RFC 5952 canonical text: lowercase, no leading zeros, the longest run of
// two or more zero groups compressed (the first on a tie), and IPv4-mapped
// addresses written as ::ffff:a.b.c.d.
export function formatIPv6(g: number[]): string {
  const v4 = mappedIPv4(g);
  if (v4 !== null) return `::ffff:${formatIPv4(v4)}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestLen < 2) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

export type ParsedIp = { version: 4; v4: number } | { version: 6; groups: number[] };

// Any IP literal: IPv4 in any inet_aton spelling, IPv6 with or without
// brackets. Zone ids (fe80::1%eth0) are refused: they only make sense for
// link-local addresses, which the gate never dials.
export function parseIp(raw: string): ParsedIp | null {
  let s = raw;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  else if (s.includes(":")) {
    // bare IPv6
  } else {
    const v4 = parseIPv4(s);
    return v4 === null ? null : { version: 4, v4 };
  }
  const g = parseIPv6(s);
  return g === null ? null : { version: 6, groups: g };
}

export function formatIp(ip: ParsedIp): string {
  return ip.version === 4 ? formatIPv4(ip.v4) : formatIPv6(ip.groups);
}
