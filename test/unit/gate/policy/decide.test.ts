import { describe, expect, test } from "bun:test";
import { claudeCodeRoutes } from "../../../../src/defaults/claude.ts";
import { decide } from "../../../../src/gate/policy/decide.ts";
import { egressRouteSchema, type EgressRoute } from "../../../../src/manifest/schema.ts";
import type { GatePolicy, RequestFacts } from "../../../../src/gate/types.ts";

// Routes go through the real manifest schema so defaults (tls, dlp) are the
// ones the gate will actually see.
function policy(routes: Record<string, unknown>[]): GatePolicy {
  return {
    version: 1,
    slug: "test-abcde",
    routes: routes.map((r) => egressRouteSchema.parse(r)),
    git: [],
    supervise: false,
    placeholders: {},
  };
}

function req(host: string, o: Partial<RequestFacts> = {}): RequestFacts {
  return { host, port: 443, method: "GET", path: "/", scheme: "https", ...o };
}
const connect = (host: string, port = 443): RequestFacts => ({ host, port, method: "CONNECT", path: null, scheme: "https" });

type Want = { allow: true; routeHost: string; host?: string; index?: number } | { allow: false; reason: string };

function check(p: GatePolicy, facts: RequestFacts, want: Want): void {
  const d = decide(facts, p);
  if (want.allow) {
    if (!d.allow) throw new Error(`expected allow, got deny: ${d.reason}`);
    expect(d.route.host).toBe(want.routeHost);
    if (want.index !== undefined) expect(d.route).toBe(p.routes[want.index]!);
    if (want.host) expect(d.host).toBe(want.host);
  } else {
    expect(d.allow).toBe(false);
    if (!d.allow) expect(d.reason).toBe(want.reason);
  }
}

describe("decide: hosts", () => {
  const p = policy([
    { host: "api.x.com" },
    { host: "*.y.com" },
    { host: "*.deep.y.com", methods: ["GET"] },
    { host: "1.2.3.4" },
    { host: "[2001:DB8::1]" },
    { host: "Bücher.example" },
  ]);
  const cases: [string, RequestFacts, Want][] = [
    ["exact host", req("api.x.com"), { allow: true, routeHost: "api.x.com" }],
    ["exact host, mixed case and trailing dot", req("API.X.COM."), { allow: true, routeHost: "api.x.com", host: "api.x.com" }],
    ["exact does not cover subdomains", req("a.api.x.com"), { allow: false, reason: "host not in allowlist: a.api.x.com" }],
    ["exact does not cover apex", req("x.com"), { allow: false, reason: "host not in allowlist: x.com" }],
    ["suffix trick", req("api.x.com.evil.com"), { allow: false, reason: "host not in allowlist: api.x.com.evil.com" }],
    ["lookalike", req("evilapi.x.com"), { allow: false, reason: "host not in allowlist: evilapi.x.com" }],
    ["wildcard one level", req("a.y.com"), { allow: true, routeHost: "*.y.com" }],
    ["wildcard any depth", req("a.b.c.y.com"), { allow: true, routeHost: "*.y.com" }],
    ["wildcard not the apex", req("y.com"), { allow: false, reason: "host not in allowlist: y.com" }],
    ["wildcard is not a substring match", req("evily.com"), { allow: false, reason: "host not in allowlist: evily.com" }],
    ["longer wildcard wins", req("a.deep.y.com", { method: "POST" }), { allow: false, reason: "method POST not allowed for a.deep.y.com" }],
    ["longer wildcard allows", req("a.deep.y.com"), { allow: true, routeHost: "*.deep.y.com" }],
    ["deep.y.com itself is under *.y.com", req("deep.y.com", { method: "POST" }), { allow: true, routeHost: "*.y.com" }],
    ["IP route", req("1.2.3.4"), { allow: true, routeHost: "1.2.3.4" }],
    ["IP route, non-canonical spelling", req("0x01020304"), { allow: true, routeHost: "1.2.3.4", host: "1.2.3.4" }],
    ["IP route, short form", req("1.2.772"), { allow: true, routeHost: "1.2.3.4" }],
    ["IP literal denied", req("5.6.7.8"), { allow: false, reason: "IP literal not allowed: 5.6.7.8" }],
    ["IP literal denied (decimal)", req("2130706433"), { allow: false, reason: "IP literal not allowed: 127.0.0.1" }],
    ["IPv6 route", req("[2001:db8:0::1]"), { allow: true, routeHost: "[2001:DB8::1]" }],
    ["IPv6 denied", req("[::1]"), { allow: false, reason: "IP literal not allowed: ::1" }],
    ["mapped IPv4 is not the IPv4 route", req("[::ffff:1.2.3.4]"), { allow: false, reason: "IP literal not allowed: ::ffff:1.2.3.4" }],
    ["IDN route", req("xn--bcher-kva.example"), { allow: true, routeHost: "Bücher.example" }],
    ["IDN request", req("BÜCHER.example"), { allow: true, routeHost: "Bücher.example", host: "xn--bcher-kva.example" }],
    ["userinfo trick", req("api.x.com@evil.com"), { allow: false, reason: "invalid host: invalid character in host: @" }],
    ["reserved name", req("git.bottle.internal"), { allow: false, reason: "reserved name" }],
    ["reserved apex", req("bottle.internal"), { allow: false, reason: "reserved name" }],
    ["reserved, uppercase", req("GIT.Bottle.Internal."), { allow: false, reason: "reserved name" }],
  ];
  for (const [name, facts, want] of cases) test(name, () => check(p, facts, want));

  test("a wildcard never matches an IP literal", () => {
    check(policy([{ host: "*.0.0.1" }]), req("127.0.0.1"), { allow: false, reason: "IP literal not allowed: 127.0.0.1" });
  });
  test("routes naming bottle.internal are ignored", () => {
    check(policy([{ host: "*.internal" }]), req("git.bottle.internal"), { allow: false, reason: "reserved name" });
  });
  test("empty policy denies everything", () => {
    check(policy([]), req("api.x.com"), { allow: false, reason: "host not in allowlist: api.x.com" });
  });
  test("an unreadable route allows nothing and does not break the others", () => {
    const p2 = policy([{ host: "bad..host" }, { host: "ok.com" }]);
    check(p2, req("bad..host"), { allow: false, reason: "invalid host: empty label in host" });
    check(p2, req("ok.com"), { allow: true, routeHost: "ok.com" });
  });
});

describe("decide: ports", () => {
  const p = policy([{ host: "api.x.com" }, { host: "alt.x.com", ports: [8443, 443] }]);
  const cases: [string, RequestFacts, Want][] = [
    ["https default 443", req("api.x.com"), { allow: true, routeHost: "api.x.com" }],
    ["CONNECT default 443", connect("api.x.com"), { allow: true, routeHost: "api.x.com" }],
    ["CONNECT 22 denied", connect("api.x.com", 22), { allow: false, reason: "port 22 not allowed for api.x.com" }],
    ["https 8443 denied by default", req("api.x.com", { port: 8443 }), { allow: false, reason: "port 8443 not allowed for api.x.com" }],
    ["plain http default 80", req("api.x.com", { scheme: "http", port: 80 }), { allow: true, routeHost: "api.x.com" }],
    ["plain http on 443 denied", req("api.x.com", { scheme: "http", port: 443 }), { allow: false, reason: "port 443 not allowed for api.x.com" }],
    ["explicit ports", connect("alt.x.com", 8443), { allow: true, routeHost: "alt.x.com" }],
    ["explicit ports replace the default", req("alt.x.com", { scheme: "http", port: 80 }), { allow: false, reason: "port 80 not allowed for alt.x.com" }],
    ["port 0", req("api.x.com", { port: 0 }), { allow: false, reason: "invalid port: 0" }],
    ["port 65536", req("api.x.com", { port: 65536 }), { allow: false, reason: "invalid port: 65536" }],
    ["port NaN", req("api.x.com", { port: Number.NaN }), { allow: false, reason: "invalid port: NaN" }],
  ];
  for (const [name, facts, want] of cases) test(name, () => check(p, facts, want));
});

describe("decide: credential routes are https only", () => {
  const auth = { token_ref: "T" };
  const p = policy([
    { host: "key.x.com", auth },
    { host: "alt.x.com", auth, ports: [8443, 8080] },
    { host: "pass.x.com", tls: "passthrough" },
    { host: "open.x.com" },
  ]);
  const noHttp = (h: string) => `plain http to ${h}: its credential is only sent over https`;
  const cases: [string, RequestFacts, Want][] = [
    ["https 443", req("key.x.com"), { allow: true, routeHost: "key.x.com" }],
    ["CONNECT 443", connect("key.x.com"), { allow: true, routeHost: "key.x.com" }],
    ["no ports: CONNECT 80 refused", connect("key.x.com", 80), { allow: false, reason: "port 80 not allowed for key.x.com" }],
    ["no ports: https on 80 refused", req("key.x.com", { port: 80 }), { allow: false, reason: "port 80 not allowed for key.x.com" }],
    ["plain http on 80 refused", req("key.x.com", { scheme: "http", port: 80 }), { allow: false, reason: noHttp("key.x.com") }],
    ["plain http on 443 refused", req("key.x.com", { scheme: "http", port: 443 }), { allow: false, reason: noHttp("key.x.com") }],
    ["explicit ports: https 8080 allowed", req("alt.x.com", { port: 8080 }), { allow: true, routeHost: "alt.x.com" }],
    ["explicit ports: plain http 8080 refused", req("alt.x.com", { scheme: "http", port: 8080 }), { allow: false, reason: noHttp("alt.x.com") }],
    ["route without auth: CONNECT 80 for plain HTTP inside", connect("open.x.com", 80), { allow: true, routeHost: "open.x.com" }],
    ["route without auth: https on 80 still refused", req("open.x.com", { port: 80 }), { allow: false, reason: "port 80 not allowed for open.x.com" }],
    ["passthrough: CONNECT 80 refused", connect("pass.x.com", 80), { allow: false, reason: "port 80 not allowed for pass.x.com" }],
  ];
  for (const [name, facts, want] of cases) test(name, () => check(p, facts, want));
  test("the reason names the route the request was for (one host, two ports)", () => {
    const two = policy([{ host: "h.x.com", ports: [8000] }, { host: "h.x.com", ports: [8001], auth }]);
    check(two, req("h.x.com", { scheme: "http", port: 8001 }), { allow: false, reason: noHttp("h.x.com") });
    check(two, req("h.x.com", { scheme: "http", port: 8000 }), { allow: true, routeHost: "h.x.com" });
  });
  test("the built-in Claude routes follow the same rule", () => {
    for (const env of [{ ANTHROPIC_API_KEY: "k" }, { CLAUDE_CODE_OAUTH_TOKEN: "t" }]) {
      const c: GatePolicy = { ...p, routes: claudeCodeRoutes(env) };
      for (const h of ["api.anthropic.com", "mcp-proxy.anthropic.com"]) {
        check(c, req(h), { allow: true, routeHost: h });
        check(c, req(h, { scheme: "http", port: 80 }), { allow: false, reason: noHttp(h) });
        check(c, connect(h, 80), { allow: false, reason: `port 80 not allowed for ${h}` });
      }
    }
  });
});

describe("decide: methods and paths", () => {
  const p = policy([
    { host: "api.x.com", methods: ["get", "HEAD"], paths: ["/v1/models", "/public/"] },
    { host: "api.x.com", methods: ["POST"], paths: ["/v1/messages"] },
    { host: "open.x.com" },
    { host: "pass.x.com", tls: "passthrough" },
    { host: "passrestricted.x.com", tls: "passthrough", methods: ["GET"] },
    { host: "passpaths.x.com", tls: "passthrough", paths: ["/a"] },
  ]);
  const cases: [string, RequestFacts, Want][] = [
    ["GET allowed path", req("api.x.com", { path: "/v1/models" }), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["GET sub path", req("api.x.com", { path: "/v1/models/claude" }), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["query ignored", req("api.x.com", { path: "/v1/models?limit=5&x=/admin" }), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["fragment ignored", req("api.x.com", { path: "/v1/models#x" }), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["segment boundary", req("api.x.com", { path: "/v1/models-admin" }), { allow: false, reason: "path /v1/models-admin not allowed for api.x.com" }],
    ["prefix with trailing slash", req("api.x.com", { path: "/public/a/b" }), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["prefix with trailing slash matches the dir itself", req("api.x.com", { path: "/public" }), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["HEAD allowed", req("api.x.com", { method: "HEAD", path: "/v1/models" }), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["second route by method", req("api.x.com", { method: "POST", path: "/v1/messages" }), { allow: true, routeHost: "api.x.com", index: 1 }],
    ["POST wrong path", req("api.x.com", { method: "POST", path: "/admin" }), { allow: false, reason: "path /admin not allowed for api.x.com" }],
    ["DELETE", req("api.x.com", { method: "DELETE", path: "/v1/models" }), { allow: false, reason: "method DELETE not allowed for api.x.com" }],
    ["lowercase method is not GET", req("api.x.com", { method: "get", path: "/v1/models" }), { allow: false, reason: "method get not allowed for api.x.com" }],
    ["invalid method", req("api.x.com", { method: "GE T" }), { allow: false, reason: "invalid method" }],
    ["dot segments normalised", req("api.x.com", { path: "/v1/./models" }), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["double slashes normalised", req("api.x.com", { path: "//v1//models" }), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["decoded before matching", req("api.x.com", { path: "/v1/%6dodels" }), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["traversal denied", req("api.x.com", { path: "/v1/models/../../admin" }), { allow: false, reason: "path traversal (..) for api.x.com" }],
    ["encoded traversal denied", req("api.x.com", { path: "/v1/models/%2e%2e/admin" }), { allow: false, reason: "path traversal (..) for api.x.com" }],
    ["encoded traversal mixed case", req("api.x.com", { path: "/v1/models/.%2E/admin" }), { allow: false, reason: "path traversal (..) for api.x.com" }],
    ["double encoded traversal", req("api.x.com", { path: "/v1/models/%252e%252e/admin" }), { allow: false, reason: "double-encoded path for api.x.com" }],
    ["encoded slash hiding traversal", req("api.x.com", { path: "/v1/models%2F..%2Fadmin" }), { allow: false, reason: "path traversal (..) for api.x.com" }],
    ["encoded slash hiding traversal, no path rules", req("open.x.com", { path: "/a%2f..%2f..%2fadmin" }), { allow: false, reason: "path traversal (..) for open.x.com" }],
    // A path rule cannot be bypassed by reading %2f one way when matching
    // and the server reading it the other way: refused on such routes.
    ["encoded slash on a route with path rules", req("api.x.com", { path: "/v1%2fmodels" }), { allow: false, reason: "encoded slash in path for api.x.com (its path rules cannot be checked against it)" }],
    ["encoded slash inside an allowed prefix", req("api.x.com", { path: "/public/a%2Fb" }), { allow: false, reason: "encoded slash in path for api.x.com (its path rules cannot be checked against it)" }],
    // npm's scoped packages: legitimate where no path rule applies.
    ["npm scoped package, no path rules", req("open.x.com", { path: "/@types%2fnode" }), { allow: true, routeHost: "open.x.com" }],
    ["npm scoped package, upper case", req("open.x.com", { path: "/@babel%2Fcore/-/core-7.0.0.tgz" }), { allow: true, routeHost: "open.x.com" }],
    ["encoded backslash", req("api.x.com", { path: "/v1/models%5c" }), { allow: false, reason: "encoded backslash in path for api.x.com" }],
    ["raw backslash", req("api.x.com", { path: "/v1/models\\..\\admin" }), { allow: false, reason: "backslash in path for api.x.com" }],
    ["bad percent", req("api.x.com", { path: "/v1/%zz" }), { allow: false, reason: "invalid percent-encoding in path for api.x.com" }],
    ["encoded NUL", req("api.x.com", { path: "/v1/models%00" }), { allow: false, reason: "control character in path for api.x.com" }],
    ["not origin-form", req("api.x.com", { path: "v1/models" }), { allow: false, reason: "path must start with / for api.x.com" }],
    ["missing path", req("api.x.com", { path: null }), { allow: false, reason: "missing request path" }],
    ["traversal denied even without path rules", req("open.x.com", { path: "/a/../b" }), { allow: false, reason: "path traversal (..) for open.x.com" }],
    ["unrestricted route any method", req("open.x.com", { method: "PATCH", path: "/anything" }), { allow: true, routeHost: "open.x.com" }],
    ["three dots are a name", req("open.x.com", { path: "/a/.../b" }), { allow: true, routeHost: "open.x.com" }],
    ["CONNECT skips method/path checks", connect("api.x.com"), { allow: true, routeHost: "api.x.com", index: 0 }],
    ["CONNECT passthrough", connect("pass.x.com"), { allow: true, routeHost: "pass.x.com" }],
    ["CONNECT passthrough with methods", connect("passrestricted.x.com"), { allow: false, reason: "tls passthrough cannot enforce methods/paths for passrestricted.x.com" }],
    ["CONNECT passthrough with paths", connect("passpaths.x.com"), { allow: false, reason: "tls passthrough cannot enforce methods/paths for passpaths.x.com" }],
  ];
  for (const [name, facts, want] of cases) test(name, () => check(p, facts, want));

  test("a long or hostile path is shortened and cleaned in the reason", () => {
    const d = decide(req("api.x.com", { path: "/" + "a".repeat(500) }), p);
    expect(d.allow).toBe(false);
    if (!d.allow) {
      expect(d.reason.length).toBeLessThan(160);
      expect(d.reason).toStartWith("path /aaaa");
    }
  });
});

describe("decide: route precedence", () => {
  test("exact beats wildcard, even when the wildcard would allow", () => {
    const p = policy([{ host: "*.x.com" }, { host: "api.x.com", methods: ["GET"] }]);
    check(p, req("api.x.com", { method: "POST" }), { allow: false, reason: "method POST not allowed for api.x.com" });
    check(p, req("api.x.com"), { allow: true, routeHost: "api.x.com", index: 1 });
    check(p, req("other.x.com", { method: "POST" }), { allow: true, routeHost: "*.x.com", index: 0 });
  });
  test("first matching route in manifest order wins within a host", () => {
    const p = policy([
      { host: "api.x.com", paths: ["/a"], dlp: "off" },
      { host: "api.x.com", dlp: "on" },
    ]);
    check(p, req("api.x.com", { path: "/a/b" }), { allow: true, routeHost: "api.x.com", index: 0 });
    check(p, req("api.x.com", { path: "/b" }), { allow: true, routeHost: "api.x.com", index: 1 });
  });
  test("the reason comes from the route that got furthest", () => {
    const p = policy([
      { host: "api.x.com", ports: [8443] },
      { host: "api.x.com", methods: ["GET"], paths: ["/ok"] },
    ]);
    check(p, req("api.x.com", { path: "/nope" }), { allow: false, reason: "path /nope not allowed for api.x.com" });
    check(p, req("api.x.com", { port: 22 }), { allow: false, reason: "port 22 not allowed for api.x.com" });
  });
  test("CONNECT prefers a terminating route over a restricted passthrough one", () => {
    const p = policy([
      { host: "api.x.com", tls: "passthrough", paths: ["/a"] },
      { host: "api.x.com", methods: ["GET"] },
    ]);
    check(p, connect("api.x.com"), { allow: true, routeHost: "api.x.com", index: 1 });
  });
  test("policy objects are compiled once and reused (same result twice)", () => {
    const p = policy([{ host: "api.x.com" }]);
    expect(decide(req("api.x.com"), p)).toEqual(decide(req("api.x.com"), p));
  });
});
