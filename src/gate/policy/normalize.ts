import { domainToASCII } from "node:url";
import { formatIp, looksNumeric, parseIp } from "./ip.ts";

// Host normalisation: every host the gate decides on goes through here first,
// so that one name has exactly one spelling. The decision, the audit line and
// the upstream dial must all use the normalised form, never the raw one.

export type NormalizedHost =
  | { ok: true; host: string; isIp: boolean; ipVersion: 0 | 4 | 6 }
  | { ok: false; reason: string };

const MAX_NAME = 253;
const MAX_LABEL = 63;

function bad(reason: string): NormalizedHost {
  return { ok: false, reason };
}

export function normalizeHost(raw: string): NormalizedHost {
  if (typeof raw !== "string" || raw.length === 0) return bad("empty host");
  // Far longer than any legal name even before IDN mapping: refuse early so
  // no later step works on attacker-sized input.
  if (raw.length > 1024) return bad("host name too long");
  // Characters that never belong in a host and that parsers disagree about:
  // userinfo (`user@host`, `host@evil`), percent-encoding (decoded by some
  // parsers, not others), backslashes (`\` is `/` to WHATWG), path/query/
  // fragment delimiters, whitespace and control characters (C0, DEL, C1).
  // eslint-disable-next-line no-control-regex
  const m = /[@%\\/?#\s\x00-\x1f\x7f-\x9f]/.exec(raw);
  if (m) return bad(`invalid character in host: ${describeChar(m[0])}`);

  // IP literals first: brackets or a colon mean IPv6.
  if (raw.startsWith("[") || raw.includes(":")) {
    if (raw.startsWith("[") !== raw.endsWith("]")) return bad("unbalanced brackets in host");
    const ip = parseIp(raw);
    if (!ip || ip.version !== 6) return bad("invalid IPv6 literal");
    return { ok: true, host: formatIp(ip), isIp: true, ipVersion: 6 };
  }
  if (raw.includes("[") || raw.includes("]")) return bad("invalid character in host: [");

  let name = raw.endsWith(".") ? raw.slice(0, -1) : raw;
  if (name.length === 0) return bad("empty host");

  const plainAscii = /^[A-Za-z0-9._-]+$/.test(name);
  if (plainAscii && looksNumeric(name)) {
    const ip = parseIp(name);
    if (!ip) return bad("invalid IPv4 literal");
    return { ok: true, host: formatIp(ip), isIp: true, ipVersion: 4 };
  }

  // IDN -> punycode (UTS #46 mapping, as browsers and curl+libidn2 do).
  // domainToASCII returns "" for names it cannot map (bad punycode,
  // disallowed code points). Names that are already ASCII skip the mapping
  // unless they carry punycode labels, which must be validated.
  let ascii = name;
  if (!plainAscii || /(^|\.)xn--/i.test(name)) {
    ascii = domainToASCII(name);
    if (ascii === "") return bad("invalid international domain name");
  }
  ascii = ascii.toLowerCase();
  // Mapping can produce a new trailing dot (a fullwidth full stop, say); the
  // one trailing dot we allow was already removed above.
  if (ascii.length > MAX_NAME) return bad("host name too long");
  const labels = ascii.split(".");
  for (const label of labels) {
    if (label.length === 0) return bad("empty label in host");
    if (label.length > MAX_LABEL) return bad("host label too long");
    // Underscores are not legal in host names but occur in real DNS names
    // (service records, some CDNs); they are harmless here.
    if (!/^[a-z0-9_-]+$/.test(label)) return bad("invalid character in host label");
    if (label.startsWith("-") || label.endsWith("-")) return bad("host label starts or ends with a hyphen");
  }
  // After IDN mapping the name can turn numeric ("１２７.0.0.1" with
  // fullwidth digits): decide it as the IP it now is.
  if (looksNumeric(ascii)) {
    const ip = parseIp(ascii);
    if (!ip) return bad("invalid IPv4 literal");
    return { ok: true, host: formatIp(ip), isIp: true, ipVersion: 4 };
  }
  return { ok: true, host: ascii, isIp: false, ipVersion: 0 };
}

function describeChar(c: string): string {
  if (c === " ") return "space";
  const code = c.charCodeAt(0);
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `control character U+${code.toString(16).padStart(4, "0")}`;
  if (/\s/.test(c)) return `whitespace U+${code.toString(16).padStart(4, "0")}`;
  return c;
}

// Splits a CONNECT authority / Host header value ("host:port", "[v6]:port",
// "host") into host and port. Returns null when malformed. The host part is
// returned raw: pass it to normalizeHost.
export function splitHostPort(authority: string, defaultPort: number | null): { host: string; port: number } | null {
  let host: string;
  let portStr: string | undefined;
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    if (end === -1) return null;
    host = authority.slice(0, end + 1);
    const rest = authority.slice(end + 1);
    if (rest === "") portStr = undefined;
    else if (rest.startsWith(":")) portStr = rest.slice(1);
    else return null;
  } else {
    const colon = authority.lastIndexOf(":");
    if (colon === -1) host = authority;
    else {
      if (authority.indexOf(":") !== colon) return null; // bare IPv6 needs brackets here
      host = authority.slice(0, colon);
      portStr = authority.slice(colon + 1);
    }
  }
  let port: number;
  if (portStr === undefined) {
    if (defaultPort === null) return null;
    port = defaultPort;
  } else {
    if (!/^[0-9]{1,5}$/.test(portStr)) return null;
    port = Number(portStr);
    if (port < 1 || port > 65535) return null;
  }
  if (host.length === 0) return null;
  return { host, port };
}
