import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { auditLines, curl, rawRequest, route, startEnv, type Env } from "./harness.ts";

// Credentials travel only over TLS the gate verified. The attacker inside
// the bottle holds the placeholder and asks for a plain http:// URL on a
// credential route, hoping the gate injects the real value into a request
// that crosses the network in clear (or at least sends the placeholder).
// The recording upstream shows what arrived.

const REAL = "cred-R3alValue-0123456789abcdefXYZ";
const PH = "cred-Pl4ceHold-9876543210zyxwvuABC";

let env: Env;
beforeAll(async () => {
  env = await startEnv(
    (up) => [
      // Both ports listed: the route's own port list must not turn plain
      // http into a credential carrier.
      route("key.test", { ports: [up.httpsPort, up.httpPort], auth: { header: "x-api-key", scheme: "", token_ref: "KEY" } }),
    ],
    { secrets: { credentials: { KEY: REAL }, secrets: [] }, placeholders: { KEY: PH } },
  );
});
afterAll(async () => {
  await env.close();
});

describe("gate: a credential only over verified TLS", () => {
  test("https: the upstream gets the real value", async () => {
    const r = await curl(env, [`https://key.test:${env.up.httpsPort}/ok`, "-H", `x-api-key: ${PH}`]);
    expect(r.status).toBe(200);
    expect(env.up.seen.at(-1)!.headers["x-api-key"]).toBe(REAL);
  });

  test("plain http:// (absolute-form) on a credential route: 403, nothing reaches the upstream, one audit line", async () => {
    const before = env.up.seen.length;
    const lines = auditLines(env).length;
    const r = await curl(env, [`http://key.test:${env.up.httpPort}/steal`, "-H", `x-api-key: ${PH}`]);
    expect(r.status).toBe(403);
    expect(r.body).toBe("blocked: plain http to key.test: its credential is only sent over https\n");
    // Neither the real value nor the placeholder went out in clear.
    expect(env.up.seen.length).toBe(before);
    const added = auditLines(env).slice(lines);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ method: "GET", host: "key.test", decision: "deny", layer: "policy", status: 403 });
  });

  test("the same without any credential header: still refused (the route never carries plain http)", async () => {
    const before = env.up.seen.length;
    const res = await rawRequest(env.gate.port!, `GET http://key.test:${env.up.httpPort}/x HTTP/1.1\r\nHost: key.test:${env.up.httpPort}\r\nConnection: close\r\n\r\n`);
    expect(res).toStartWith("HTTP/1.1 403");
    expect(env.up.seen.length).toBe(before);
  });
});
