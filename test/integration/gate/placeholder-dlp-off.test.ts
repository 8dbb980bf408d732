import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditLines, curl, route, startEnv, type Env } from "./harness.ts";

// A placeholder never leaves through a route that does not inject it,
// whatever the route's DLP setting: `dlp: off` stops the general scanning
// (token shapes, entropy, the bottle's secrets), not this. A route that
// injects a credential may carry its own placeholder (it replaces it in its
// header anyway), never another credential's.

const KEY_REAL = "sk-ant-api03-RealAnthropicValue0123456789abcdefXYZ";
const KEY_PH = "sk-ant-api03-PlaceholderValue9876543210zyxwvutABC";
const GH_REAL = "ghp_R3alT0kenValue0123456789abcdefABCD";
const GH_PH = "ghp_Pl4ceh0lderValue987654321zyxwvZYXW";

let env: Env;
beforeAll(async () => {
  env = await startEnv(
    (up) => [
      route("up.test", { ports: [up.httpsPort], dlp: "off" }),
      route("api.test", { ports: [up.httpsPort], dlp: "off", auth: { header: "x-api-key", scheme: "", token_ref: "ANTHROPIC_API_KEY" } }),
      route("key.test", { ports: [up.httpsPort], auth: { header: "Authorization", scheme: "token", token_ref: "GH_TOKEN" } }),
    ],
    {
      secrets: { credentials: { ANTHROPIC_API_KEY: KEY_REAL, GH_TOKEN: GH_REAL }, secrets: [] },
      placeholders: { ANTHROPIC_API_KEY: KEY_PH, GH_TOKEN: GH_PH },
    },
  );
});
afterAll(async () => {
  await env.close();
});

const base = () => `https://up.test:${env.up.httpsPort}`;

describe("gate: placeholders on dlp: off routes", () => {
  test("a route without auth: every placeholder is refused in the path, a header and the body, also encoded", async () => {
    const before = env.up.seen.length;
    const attempts: string[][] = [
      [`${base()}/collect?k=${KEY_PH}`],
      [`${base()}/collect`, "-H", `X-Leak: ${GH_PH}`],
      [`${base()}/collect`, "--data-binary", `key=${KEY_PH}`],
      [`${base()}/collect`, "--data-binary", Buffer.from(GH_PH).toString("base64")],
    ];
    for (const a of attempts) {
      const r = await curl(env, a);
      expect(r.status).toBe(403);
      expect(r.body).toContain("blocked: dlp: placeholder:");
    }
    expect(env.up.seen.length).toBe(before);
    expect(auditLines(env).filter((l) => l.host === "up.test" && l.layer === "dlp" && l.decision === "deny").length).toBe(attempts.length);
  });

  test("dlp: off still means off for everything else: token shapes and random text pass", async () => {
    const r = await curl(env, [`${base()}/code`, "--data-binary", "const t = 'ghp_0123456789abcdefghijABCDEFGHIJ0123456789'; // example from the docs"]);
    expect(r.status).toBe(200);
  });

  test("a route that injects a credential: its own placeholder passes, another credential's does not", async () => {
    const api = `https://api.test:${env.up.httpsPort}/v1/messages`;
    const own = await curl(env, [api, "-H", `x-api-key: ${KEY_PH}`, "--data-binary", `{"text":"the key ends ${KEY_PH.slice(-20)} and is ${KEY_PH}"}`]);
    expect(own.status).toBe(200);
    expect(env.up.seen.at(-1)!.headers["x-api-key"]).toBe(KEY_REAL);
    const before = env.up.seen.length;
    const other = await curl(env, [api, "-H", `x-api-key: ${KEY_PH}`, "--data-binary", `{"text":"${GH_PH}"}`]);
    expect(other.status).toBe(403);
    expect(other.body).toContain("placeholder:GH_TOKEN");
    expect(env.up.seen.length).toBe(before);
  });
});
