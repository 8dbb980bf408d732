import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readPolicy } from "../../../src/gate/policy/file.ts";
import { decide } from "../../../src/gate/policy/decide.ts";
import type { GatePolicy } from "../../../src/gate/types.ts";
import type { EgressRoute } from "../../../src/manifest/schema.ts";
import { allowHost, canonicalPattern, denyHost, routeKey } from "../../../src/policy/edit.ts";
import { applyEdit, stateDirFor, writePolicy } from "../../../src/policy/store.ts";

const route = (host: string, extra: Partial<EgressRoute> = {}): EgressRoute => ({
  host,
  tls: "terminate",
  dlp: "on",
  allow_private: false,
  ...extra,
});
const policy = (routes: EgressRoute[]): GatePolicy => ({ version: 1, slug: "demo-abcde", routes, git: [], supervise: false, placeholders: {} });
const get = (p: GatePolicy, host: string, method = "GET", path = "/") =>
  decide({ host, port: 443, method, path, scheme: "https" }, p).allow;

describe("allowHost", () => {
  test("adds a route that the decision then allows, with methods/paths", () => {
    const p0 = policy([route("api.example.com")]);
    expect(get(p0, "docs.example.org")).toBe(false);
    const { policy: p1, changed } = allowHost(p0, "Docs.Example.org.", { methods: ["get"], paths: ["/v1/"] });
    expect(changed).toBe(true);
    expect(p1.routes.at(-1)).toEqual(route("docs.example.org", { methods: ["GET"], paths: ["/v1/"] }));
    expect(get(p1, "docs.example.org", "GET", "/v1/x")).toBe(true);
    expect(get(p1, "docs.example.org", "POST", "/v1/x")).toBe(false);
    expect(get(p1, "docs.example.org", "GET", "/v2/x")).toBe(false);
    expect(p0.routes.length).toBe(1); // pure
  });
  test("idempotent; rejects bad input", () => {
    const p1 = allowHost(policy([]), "x.test").policy;
    expect(allowHost(p1, "X.TEST").changed).toBe(false);
    expect(() => allowHost(p1, "bad host")).toThrow(/not a host name/);
    expect(() => allowHost(p1, "git.bottle.internal")).toThrow(/served by the gate/);
    expect(() => allowHost(p1, "x.test", { paths: ["v1"] })).toThrow(/--paths/);
  });
  test("canonical patterns", () => {
    expect(canonicalPattern("*.Example.COM")).toBe("*.example.com");
    expect(canonicalPattern("[::1]")).toBe("[::1]");
  });
});

describe("routeKey", () => {
  test("equal for spellings of one pattern, different for any other field", () => {
    expect(routeKey(route("API.Example.com."))).toBe(routeKey(route("api.example.com")));
    expect(routeKey(route("*.X.test"))).toBe(routeKey(route("*.x.test")));
    const base = routeKey(route("a.test"));
    const others: Partial<EgressRoute>[] = [
      { methods: ["GET"] },
      { paths: ["/v1/"] },
      { ports: [8443] },
      { tls: "passthrough" },
      { dlp: "off" },
      { allow_private: true },
      { auth: { header: "authorization", scheme: "Bearer", token_ref: "T" } },
    ];
    for (const o of others) expect(routeKey(route("a.test", o))).not.toBe(base);
    expect(routeKey(route("b.test"))).not.toBe(base);
  });
  test("a pattern that cannot be canonicalised compares as written, without throwing", () => {
    expect(routeKey(route("bad host"))).toBe(routeKey(route("bad host")));
    expect(routeKey(route("bad host"))).not.toBe(routeKey(route("Bad host")));
  });
});

describe("denyHost", () => {
  test("removes the host's routes so the decision denies it", () => {
    const p0 = policy([route("a.test"), route("a.test", { methods: ["POST"] }), route("b.test")]);
    const { policy: p1, removed } = denyHost(p0, "A.test");
    expect(removed.length).toBe(2);
    expect(get(p1, "a.test")).toBe(false);
    expect(get(p1, "b.test")).toBe(true);
  });
  test("refuses when a wildcard would still allow the host", () => {
    const p0 = policy([route("*.example.com"), route("api.example.com")]);
    expect(() => denyHost(p0, "api.example.com")).toThrow(/\*\.example\.com/);
    const { policy: p1 } = denyHost(p0, "*.example.com");
    expect(get(p1, "www.example.com")).toBe(false);
  });
});

describe("applyEdit on a state dir", () => {
  test("atomic write, re-readable, SIGHUP reaches the bottle's gate named in gate.pid", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-edit-"));
    const marker = join(dir, "hup");
    const child = Bun.spawn(
      [process.execPath, "-e", `process.on("SIGHUP", () => { require("fs").writeFileSync(${JSON.stringify(marker)}, "1"); process.exit(0); }); console.log("ready"); setInterval(() => {}, 1000);`, "gate", "--state", dir],
      { stdout: "pipe" },
    );
    try {
      const rd = child.stdout.getReader();
      await rd.read(); // handler installed
      writePolicy(dir, policy([route("a.test")]));
      writeFileSync(join(dir, "gate.pid"), String(child.pid));
      const { signal } = applyEdit(dir, (p) => allowHost(p, "b.test"), (r) => r.changed);
      expect(signal).toEqual({ running: true, pid: child.pid });
      await child.exited;
      expect(existsSync(marker)).toBe(true);
      const p = readPolicy(dir);
      expect(p.routes.map((r) => r.host)).toEqual(["a.test", "b.test"]);
      expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
      // No change: no write, no signal.
      expect(applyEdit(dir, (q) => allowHost(q, "b.test"), (r) => r.changed).signal).toBeNull();
      // Gate not running: saved, reported as not running.
      writeFileSync(join(dir, "gate.pid"), "999999");
      expect(applyEdit(dir, (q) => denyHost(q, "b.test")).signal).toEqual({ running: false });
      expect(JSON.parse(readFileSync(join(dir, "policy.json"), "utf8")).routes.length).toBe(1);
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("a corrupt policy.json is a user error naming the file", () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-edit-"));
    try {
      writeFileSync(join(dir, "policy.json"), JSON.stringify({ version: 1, slug: "x", routes: [{ host: "a", bogus: 1 }], git: [], supervise: false, placeholders: {} }));
      expect(() => readPolicy(dir)).toThrow(/policy\.json: routes\.0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("stateDirFor resolves a slug under CLAUDE_BOTTLE_HOME", () => {
    const home = mkdtempSync(join(tmpdir(), "cb-home-"));
    try {
      expect(() => stateDirFor("demo-abcde", { CLAUDE_BOTTLE_HOME: home })).toThrow(/no bottle/);
      expect(() => stateDirFor("../etc", { CLAUDE_BOTTLE_HOME: home })).toThrow(/not a bottle slug/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
