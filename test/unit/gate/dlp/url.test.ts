import { describe, expect, test } from "bun:test";
import { compileDlp } from "../../../../src/gate/dlp/index.ts";
import { isHighEntropyToken } from "../../../../src/gate/dlp/entropy.ts";
import { randomBytes, randomToken } from "./corpus.ts";

const dlp = compileDlp({ secrets: [{ name: "S", value: randomToken(30, 500) }], placeholders: [] });

// Ordinary URLs an agent fetches: none may be blocked.
const urls: [string, string][] = [
  ["api.anthropic.com", "/v1/messages?beta=true"],
  ["api.anthropic.com", "/v1/messages/count_tokens?beta=true"],
  ["api.anthropic.com", "/api/oauth/profile"],
  ["api.anthropic.com", "/v1/organizations/550e8400-e29b-41d4-a716-446655440000/members?limit=100"],
  ["api.github.com", "/repos/anthropics/claude-code/pulls/123/comments"],
  ["api.github.com", "/repos/o/r/commits/3f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c"],
  ["api.github.com", "/repos/o/r/compare/3f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c...8b7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c"],
  ["api.github.com", "/repos/o/r/git/trees/main?recursive=1"],
  ["api.github.com", "/search/code?q=withRetry+language%3Atypescript+repo%3Aanthropics%2Fclaude-code&per_page=100"],
  ["api.github.com", "/user/repos?page=2&per_page=50&sort=updated"],
  ["gitlab.com", "/api/v4/projects/42/merge_requests?state=opened&per_page=100"],
  ["registry.npmjs.org", "/@babel%2fcore"],
  ["registry.npmjs.org", "/@babel/core/-/core-7.24.0.tgz"],
  ["registry.npmjs.org", "/-/v1/search?text=keywords:typescript%20eslint-plugin&size=20"],
  ["files.pythonhosted.org", "/packages/3b/00/2a1b36c4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2/requests-2.31.0-py3-none-any.whl"],
  ["pypi.org", "/simple/requests/"],
  ["registry-1.docker.io", "/v2/library/node/manifests/sha256:a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2"],
  ["proxy.golang.org", "/github.com/spf13/cobra/@v/v1.8.0.mod"],
  ["proxy.golang.org", "/github.com/!azure/azure-sdk-for-go/sdk/azcore/@v/list"],
  ["sum.golang.org", "/lookup/golang.org/x/crypto@v0.21.0"],
  ["www.google.com", "/search?q=how+to+parse+json+in+typescript&hl=en&sourceid=chrome&ie=UTF-8"],
  ["en.wikipedia.org", "/wiki/Aho%E2%80%93Corasick_algorithm"],
  ["stackoverflow.com", "/questions/927358/how-do-i-undo-the-most-recent-local-commits-in-git"],
  ["docs.anthropic.com", "/en/docs/claude-code/getting-started#install-and-authenticate"],
  ["cdn.jsdelivr.net", "/npm/react@18.2.0/umd/react.production.min.js"],
  ["example.com", "/_next/static/chunks/pages/_app-a1b2c3d4e5f6a7b8.js"],
  ["example.com", "/assets/index-BxK9mZ2q.js"],
  ["example.com", "/assets/vendor-DqL8mN3p.css"],
  ["static.crates.io", "/crates/serde/serde-1.0.197.crate"],
  ["us-central1-aiplatform.googleapis.com", "/v1/projects/my-project-123456/locations/us-central1/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict"],
  ["bedrock-runtime.us-east-1.amazonaws.com", "/model/anthropic.claude-3-5-sonnet-20241022-v2:0/invoke-with-response-stream"],
  ["objects.githubusercontent.com", "/github-production-release-asset-2e65be/123456789/abcdef01-2345-6789-abcd-ef0123456789?response-content-disposition=attachment%3B%20filename%3Dtool-linux-amd64.tar.gz&response-content-type=application%2Foctet-stream"],
  ["raw.githubusercontent.com", "/anthropics/claude-code/3f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c/README.md"],
  ["example.com", "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale_2024_announcement"],
  ["d1a2b3c4d5e6f7.cloudfront.net", "/images/logo@2x.png"],
  ["abc123def456.execute-api.us-east-1.amazonaws.com", "/prod/items"],
  ["my-bucket-name-2024.s3.us-west-2.amazonaws.com", "/backups/2024-01-01/db.sql.gz"],
  ["r3---sn-4g5e6nz7.googlevideo.com", "/videoplayback?expire=1700000000&ei=abc"],
  ["example.com", "/api/v1/users/getUserProfileById2024/settings"],
  ["example.com", "/api/v1/XMLHttpRequestEventTarget2/listeners"],
  ["www.youtube.com", "/watch?v=dQw4w9WgXcQ&t=42s"],
  ["example.com", "/download/node-v20.11.1-linux-x64.tar.xz"],
  ["api.openai.com", "/v1/chat/completions"],
  ["github.com", "/anthropics/claude-code/blob/main/src/tools/BashTool/BashTool.tsx"],
  ["github.com", "/login/oauth/authorize?client_id=Iv1.8a61f9b3a7aba766&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcallback&scope=repo%20read%3Aorg&state=random"],
];

describe("scanUrl: ordinary URLs pass", () => {
  for (const [host, path] of urls) {
    test(`${host}${path.slice(0, 70)}`, () => expect(dlp.scanUrl(host, path)).toBeNull());
  }
});

describe("scanUrl: high-entropy tokens", () => {
  const rate = (make: (i: number) => [string, string]): number => {
    let hits = 0;
    for (let i = 0; i < 200; i++) if (dlp.scanUrl(...make(i))?.rule === "entropy") hits++;
    return hits / 200;
  };
  test("random base62 in a path segment (24 chars: most; 40+: nearly all)", () => {
    expect(rate((i) => ["api.x.com", `/x/${randomToken(24, 1000 + i)}/y`])).toBeGreaterThan(0.85);
    expect(rate((i) => ["api.x.com", `/x/${randomToken(40, 2000 + i)}`])).toBeGreaterThan(0.95);
    expect(rate((i) => ["api.x.com", `/x/${randomToken(64, 3000 + i)}`])).toBeGreaterThan(0.98);
  });
  test("base64 of random bytes in a query value", () => {
    expect(rate((i) => ["api.x.com", `/x?d=${encodeURIComponent(Buffer.from(randomBytes(32, 4000 + i)).toString("base64"))}`])).toBeGreaterThan(0.95);
  });
  test("base64url with - and _ inside", () => {
    expect(rate((i) => ["api.x.com", `/x?d=${Buffer.from(randomBytes(48, 5000 + i)).toString("base64url")}`])).toBeGreaterThan(0.95);
  });
  test("base32 and hex in subdomain labels (DNS exfiltration)", () => {
    expect(rate((i) => [`${randomToken(48, 6000 + i, "abcdefghijklmnopqrstuvwxyz234567")}.x.com`, "/"])).toBeGreaterThan(0.8);
    expect(rate((i) => [`${randomToken(32, 7000 + i, "0123456789abcdef")}.x.com`, "/"])).toBe(1);
  });
  test("where is reported", () => {
    const t = "Qm7rT2xW9kLp4ZsN8vB3yHc6";
    expect(isHighEntropyToken(t)).toBe(true);
    expect(dlp.scanUrl("api.x.com", `/a/${t}`)).toEqual({ rule: "entropy", where: "path" });
    expect(dlp.scanUrl("api.x.com", `/a?x=${t}`)).toEqual({ rule: "entropy", where: "query" });
    expect(dlp.scanUrl("api.x.com", `/a?${t}=1`)).toEqual({ rule: "entropy", where: "query" });
    expect(dlp.scanUrl(`${t.toLowerCase()}9.x.com`, "/")).toEqual({ rule: "entropy", where: "host" });
    expect(dlp.scanUrl("api.x.com", `/a/${encodeURIComponent("x/" + t)}`)).toEqual({ rule: "entropy", where: "path" });
  });
  test("the registrable name and TLD are not judged, nor IP literals", () => {
    expect(dlp.scanUrl("qm7rt2xw9klp4zsn8vb3yhc6ab.com", "/")).toBeNull();
    expect(dlp.scanUrl("::ffff:7f00:1", "/")).toBeNull();
  });
  test("credential rules win over entropy", () => {
    expect(dlp.scanUrl("api.x.com", `/a?k=${"gh" + "p_" + randomToken(36, 8)}`)).toEqual({ rule: "github-token", where: "query" });
  });
});

describe("isHighEntropyToken", () => {
  const no: string[] = [
    "getUserProfileById2024",
    "XMLHttpRequestEventTarget2",
    "claude-sonnet-4-20250514",
    "3f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c", // git SHA
    "550e8400-e29b-41d4-a716-446655440000", // UUID
    "a".repeat(64).replace(/a/g, (_, i: number) => "0123456789abcdef"[i % 16]!), // sha256 hex
    "spring_sale_2024_announcement",
    "20240101T000000Z20240101",
    "short1A",
    "abcdefghijklmnopqrstuvwxyzABCDEFG", // no digits
    "node-v20.11.1-linux-x64",
  ];
  for (const t of no) test(`not: ${t}`, () => expect(isHighEntropyToken(t)).toBe(false));
  const yes: string[] = [
    "Qm7rT2xW9kLp4ZsN8vB3yHc6",
    "wJ9xKq2LmZ8pR4tV7nB1cD5fG3hY6sA0",
    "k2j4h6g8f0d1s3a5p7o9i2u4y6t8r0e1w3q5", // base36, long enough
  ];
  for (const t of yes) test(`yes: ${t}`, () => expect(isHighEntropyToken(t)).toBe(true));
  test("hex in host labels: short exempt, long flagged", () => {
    expect(isHighEntropyToken("d1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c", "host")).toBe(false); // 31
    expect(isHighEntropyToken("d1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6", "host")).toBe(true); // 32
    expect(isHighEntropyToken("d1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6", "path")).toBe(false);
  });
});

describe("scanHeaders", () => {
  test("ordinary request headers pass", () => {
    expect(
      dlp.scanHeaders([
        ["Host", "api.anthropic.com"],
        ["User-Agent", "claude-cli/2.0.14 (external, cli)"],
        ["Accept", "application/json, text/event-stream"],
        ["anthropic-version", "2023-06-01"],
        ["anthropic-beta", "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14"],
        ["Content-Type", "application/json"],
        ["x-stainless-retry-count", "0"],
        ["Cookie", `session=${randomToken(40, 9)}; theme=dark`], // no entropy check on headers
        ["If-None-Match", 'W/"3f9a1c2b4d5e6f708192a3b4c5d6e7f8"'],
        ["traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
      ]),
    ).toBeNull();
  });
  test("an odd header name is not echoed", () => {
    expect(dlp.scanHeaders([["x bad name", randomToken(30, 500)]])).toEqual({ rule: "secret:S", where: "header" });
  });
});
