// Request-target path normalisation for route path matching.
//
// The route's `paths` are prefixes the user wrote with an ordinary upstream
// in mind, so the gate matches against the path the way an upstream server
// will read it: percent-decoded, `.` segments removed, repeated slashes
// collapsed. Anything where servers disagree on that reading is refused
// instead of guessed: encoded backslashes (%5c), `..` segments (also when
// spelled with %2f), raw backslashes, double encoding, control characters.
//
// An encoded slash (%2f) is legitimate: npm names a scoped package
// `/@types%2fnode`, and GitLab a project `/api/v4/projects/group%2Fname`.
// Servers disagree on whether it separates segments, so such a path is
// reported (`encodedSlash`) with %2f read as a separator for the checks, and
// a route with path rules refuses it (decide.ts): a rule can then never be
// matched under one reading and served under the other. A route without
// path rules has nothing to bypass and lets it through.

export type NormalizedPath = { ok: true; path: string; encodedSlash: boolean } | { ok: false; reason: string };

export function normalizePath(target: string): NormalizedPath {
  let p = target;
  const q = p.search(/[?#]/);
  if (q !== -1) p = p.slice(0, q);
  if (!p.startsWith("/")) return { ok: false, reason: "path must start with /" };
  if (p.includes("\\")) return { ok: false, reason: "backslash in path" };
  if (/%5c/i.test(p)) return { ok: false, reason: "encoded backslash in path" };
  const encodedSlash = /%2f/i.test(p);
  let decoded: string;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    return { ok: false, reason: "invalid percent-encoding in path" };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(decoded)) return { ok: false, reason: "control character in path" };
  if (decoded.includes("\\")) return { ok: false, reason: "backslash in path" };
  // Double encoding (%252e%252e, %252f): a second decoding hop (a proxy or
  // framework that decodes again) would see traversal or a slash.
  if (/%(?:2e|2f|5c)/i.test(decoded)) return { ok: false, reason: "double-encoded path" };
  const out: string[] = [];
  const segs = decoded.split("/");
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === "..") return { ok: false, reason: "path traversal (..)" };
    // "." and empty segments (//) vanish; a trailing slash is kept below.
    if (s === "." || s === "") continue;
    out.push(s);
  }
  const last = segs[segs.length - 1];
  const trailing = segs.length > 1 && (last === "" || last === ".") && out.length > 0;
  return { ok: true, path: "/" + out.join("/") + (trailing ? "/" : ""), encodedSlash };
}

// Segment-aware prefix match: "/v1/messages" matches "/v1/messages" and
// "/v1/messages/batches" but not "/v1/messages-admin". A prefix ending in
// "/" is a plain prefix ("/repos/" matches "/repos/x").
export function pathMatches(prefix: string, path: string): boolean {
  if (prefix === "/" || prefix === "") return true;
  if (prefix.endsWith("/")) return path.startsWith(prefix) || path === prefix.slice(0, -1);
  return path === prefix || path.startsWith(prefix + "/");
}
