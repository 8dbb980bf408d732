import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { auditLines, curl, route, sha, startEnv, type Env } from "./harness.ts";

// DLP before anything reaches the upstream: URL path, query, headers, body
// (raw and gzip), and a body larger than the in-memory window. Credential
// injection: the upstream sees the real token, the client only ever had the
// placeholder, and the placeholder going anywhere else is blocked.

const SECRET = "bottle-secret-Vq7ZxP2mK9wL4nR8";
const REAL_TOKEN = "ghp_R3alT0kenValue0123456789abcdefABCD";
const PLACEHOLDER = "ghp_Pl4ceh0lderValue987654321zyxwvZYXW";

let env: Env;
beforeAll(async () => {
  env = await startEnv(
    (up) => [
      route("up.test", { ports: [up.httpsPort, up.httpPort] }),
      route("other.test", { ports: [up.httpsPort, up.httpPort] }),
      route("api.test", {
        ports: [up.httpsPort],
        auth: { header: "Authorization", scheme: "token", token_ref: "GH_TOKEN" },
      }),
      route("key.test", { ports: [up.httpsPort], auth: { header: "x-api-key", scheme: "", token_ref: "GH_TOKEN" } }),
    ],
    {
      secrets: { credentials: { GH_TOKEN: REAL_TOKEN }, secrets: [{ name: "MY_SECRET", value: SECRET }] },
      placeholders: { GH_TOKEN: PLACEHOLDER },
      extra: { limits: { dlpWindowBytes: 1024 * 1024, dlpHoldbackBytes: 64 * 1024 } },
    },
  );
  // api.test and key.test resolve like every *.test name.
});
afterAll(async () => {
  await env.close();
});

const U = () => `https://up.test:${env.up.httpsPort}`;

function expectBlocked(r: { status: number; body: string }, where: RegExp) {
  expect(r.status).toBe(403);
  expect(r.body).toMatch(/^blocked: dlp: /);
  expect(r.body).toMatch(where);
  // The 403 never echoes the secret.
  expect(r.body).not.toContain(SECRET);
}

describe("gate: DLP", () => {
  test("secret in path, query, header: 403 and the upstream sees nothing", async () => {
    const before = env.up.seen.length;
    expectBlocked(await curl(env, [`${U()}/x/${SECRET}/y`]), /secret:MY_SECRET in path/);
    expectBlocked(await curl(env, [`${U()}/x?q=${encodeURIComponent(SECRET)}`]), /in query/);
    expectBlocked(await curl(env, [`http://up.test:${env.up.httpPort}/x?q=${SECRET}`]), /in query/);
    expectBlocked(await curl(env, [`${U()}/x`, "-H", `X-Leak: ${SECRET}`]), /in header:x-leak/);
    // base64 of the secret in a cookie.
    expectBlocked(await curl(env, [`${U()}/x`, "-H", `Cookie: a=${Buffer.from(SECRET).toString("base64")}`]), /in header:cookie/);
    expect(env.up.seen.length).toBe(before);
    const denies = auditLines(env).filter((l) => l.layer === "dlp");
    expect(denies.length).toBeGreaterThanOrEqual(5);
    for (const d of denies) {
      expect(d.decision).toBe("deny");
      expect(d.status).toBe(403);
      expect(JSON.stringify(d)).not.toContain(SECRET);
    }
  });

  test("secret in a body, raw and gzip: 403 and the upstream never gets the request", async () => {
    const before = env.up.seen.length;
    expectBlocked(await curl(env, ["--data-binary", `prefix ${SECRET} suffix`, `${U()}/post`]), /in body/);
    const gz = `${env.dir}/body.gz`;
    await Bun.write(gz, gzipSync(Buffer.from(`{"note":"hello","k":"${SECRET}"}`)));
    expectBlocked(
      await curl(env, ["--data-binary", `@${gz}`, "-H", "Content-Encoding: gzip", `${U()}/post`]),
      /in body/,
    );
    expect(env.up.seen.length).toBe(before);
    // A clean gzip body passes, unchanged.
    const ok = `${env.dir}/ok.gz`;
    const okBytes = gzipSync(Buffer.from("nothing to see"));
    await Bun.write(ok, okBytes);
    const r = await curl(env, ["--data-binary", `@${ok}`, "-H", "Content-Encoding: gzip", `${U()}/post`]);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).bodySha).toBe(sha(okBytes));
  });

  test("a secret past the in-memory window: the upstream never receives a complete request", async () => {
    const before = env.up.seen.length;
    const file = `${env.dir}/late.bin`;
    // 3 MiB of filler (window is 1 MiB here), then the secret, then more.
    await Bun.write(file, Buffer.concat([Buffer.alloc(3 * 1024 * 1024, "x"), Buffer.from(SECRET), Buffer.alloc(4096, "y")]));
    const r = await curl(env, ["--data-binary", `@${file}`, `${U()}/late`]);
    expectBlocked(r, /in body/);
    await Bun.sleep(100);
    // The upstream handler only records complete requests.
    expect(env.up.seen.length).toBe(before);
  });

  test("chunked body with the secret split across chunks", async () => {
    const before = env.up.seen.length;
    const p = Bun.spawn(
      ["curl", "-sS", "--proxy", env.proxy, "--cacert", env.bottleCa, "-H", "Transfer-Encoding: chunked", "--data-binary", "@-", `${U()}/chunks`],
      { stdin: "pipe", stdout: "pipe" },
    );
    p.stdin.write("first part " + SECRET.slice(0, 10));
    await p.stdin.flush();
    await Bun.sleep(50);
    p.stdin.write(SECRET.slice(10) + " rest");
    p.stdin.end();
    const out = await new Response(p.stdout).text();
    expect(out).toMatch(/^blocked: dlp: secret:MY_SECRET in body/);
    expect(env.up.seen.length).toBe(before);
  });
});

describe("gate: credential injection", () => {
  test("the upstream sees the real token; the client only sent the placeholder", async () => {
    const r = await curl(env, [`https://api.test:${env.up.httpsPort}/user`, "-H", `Authorization: token ${PLACEHOLDER}`]);
    expect(r.status).toBe(200);
    expect(env.up.seen.at(-1)!.headers.authorization).toBe(`token ${REAL_TOKEN}`);
    // The test upstream echoes the request headers: the gate puts the
    // placeholder back in the response (response-credential.test.ts).
    expect(JSON.parse(r.body).headers.authorization).toBe(`token ${PLACEHOLDER}`);
    const k = await curl(env, [`https://key.test:${env.up.httpsPort}/k`]);
    expect(env.up.seen.at(-1)!.headers["x-api-key"]).toBe(REAL_TOKEN);
    expect(JSON.parse(k.body).headers["x-api-key"]).toBe(PLACEHOLDER);
    expect(r.body + k.body).not.toContain(REAL_TOKEN);
  });

  test("the placeholder sent to another allowed host, or elsewhere in the request, is blocked", async () => {
    const before = env.up.seen.length;
    expectBlocked(
      await curl(env, [`https://other.test:${env.up.httpsPort}/user`, "-H", `Authorization: token ${PLACEHOLDER}`]),
      /placeholder:GH_TOKEN in header:authorization/,
    );
    expectBlocked(await curl(env, [`https://api.test:${env.up.httpsPort}/user?t=${PLACEHOLDER}`]), /placeholder:GH_TOKEN in query/);
    expectBlocked(
      await curl(env, ["--data-binary", `token=${PLACEHOLDER}`, `https://api.test:${env.up.httpsPort}/user`]),
      /placeholder:GH_TOKEN in body/,
    );
    expectBlocked(
      await curl(env, [`https://api.test:${env.up.httpsPort}/user`, "-H", `X-Other: ${PLACEHOLDER}`]),
      /placeholder:GH_TOKEN in header:x-other/,
    );
    // The real value is blocked too (to any host, including the auth one in a body).
    expectBlocked(await curl(env, [`${U()}/x`, "-H", `X-T: ${REAL_TOKEN}`]), /in header:x-t/);
    expect(env.up.seen.length).toBe(before);
    for (const l of auditLines(env)) {
      const s = JSON.stringify(l);
      expect(s).not.toContain(REAL_TOKEN);
      expect(s).not.toContain(PLACEHOLDER);
    }
  });
});
