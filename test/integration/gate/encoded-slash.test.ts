import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { curl, route, startEnv, type Env } from "./harness.ts";

// %2f through the real gate, curl as the client (--path-as-is keeps the
// bytes): legitimate for npm's scoped packages where a route has no path
// rules, refused where path rules would otherwise be read one way by the
// gate and another by the upstream.

let env: Env;
beforeAll(async () => {
  env = await startEnv((up) => [
    route("up.test", { ports: [up.httpsPort] }),
    route("api.test", { ports: [up.httpsPort], paths: ["/public/"] }),
  ]);
});
afterAll(async () => {
  await env.close();
});

describe("gate: encoded slashes", () => {
  test("npm's scoped package path reaches an upstream with no path rules, byte for byte", async () => {
    const r = await curl(env, ["--path-as-is", `https://up.test:${env.up.httpsPort}/@types%2fnode`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).path).toBe("/@types%2fnode");
  });

  test("an encoded slash cannot smuggle a traversal, with or without path rules", async () => {
    const before = env.up.seen.length;
    for (const [host, path] of [["up.test", "/a%2f..%2fadmin"], ["api.test", "/public%2f..%2fsecret"]] as const) {
      const r = await curl(env, ["--path-as-is", `https://${host}:${env.up.httpsPort}${path}`]);
      expect(r.status).toBe(403);
      expect(r.body).toContain("path traversal (..)");
    }
    expect(env.up.seen.length).toBe(before);
  });

  test("a route with path rules refuses an encoded slash, even one inside its allowed prefix", async () => {
    const before = env.up.seen.length;
    const ok = await curl(env, ["--path-as-is", `https://api.test:${env.up.httpsPort}/public/x`]);
    expect(ok.status).toBe(200);
    for (const path of ["/public%2fx", "/public/a%2Fb", "/private%2f"]) {
      const r = await curl(env, ["--path-as-is", `https://api.test:${env.up.httpsPort}${path}`]);
      expect(r.status).toBe(403);
      expect(r.body).toContain("encoded slash in path for api.test");
    }
    expect(env.up.seen.length).toBe(before + 1);
  });
});
