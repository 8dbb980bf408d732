import { describe, expect, test } from "bun:test";
import { compileDlp, type DlpFinding } from "../../../../src/gate/dlp/index.ts";
import { RULES } from "../../../../src/gate/dlp/rules.ts";
import { randomToken } from "./corpus.ts";

// Tokens are assembled at run time (prefix + random body) so that this file
// holds no string that a secret scanner would flag.
const R = (n: number, seed: number, alphabet?: string) => randomToken(n, seed, alphabet);
const HEX = "0123456789abcdef";
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const UPPER_NUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const AGE = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";

// Each: rule, a realistic leak in context.
const positives: [string, string][] = [
  ["aws-access-key", `aws_access_key_id = ${"AK" + "IA" + R(16, 1, UPPER_NUM)}`],
  ["aws-access-key", `"AccessKeyId": "${"AS" + "IA" + R(16, 2, UPPER_NUM)}"`],
  ["aws-secret-key", `aws_secret_access_key = ${R(40, 3, B64)}`],
  ["aws-secret-key", `export AWS_SECRET_ACCESS_KEY="${R(40, 4, B64)}"`],
  ["aws-secret-key", `{"SecretAccessKey": "${R(40, 5, B64)}"}`],
  ["aws-secret-key", `{\\"secretAccessKey\\":\\"${R(40, 6, B64)}\\"}`],
  ["github-token", `token ${"gh" + "p_" + R(36, 7)}`],
  ["github-token", `${"gh" + "o_" + R(36, 8)}`],
  ["github-token", `${"gh" + "u_" + R(36, 9)}`],
  ["github-token", `${"gh" + "s_" + R(36, 10)}`],
  ["github-token", `${"gh" + "r_" + R(36, 11)}`],
  ["github-token", `GH_TOKEN=${"github" + "_pat_" + R(22, 12) + "_" + R(59, 13)}`],
  ["anthropic-key", `x-api-key: ${"sk-" + "ant-api03-" + R(93, 14, B64URL) + "AA"}`],
  ["anthropic-key", `CLAUDE_CODE_OAUTH_TOKEN=${"sk-" + "ant-oat01-" + R(95, 15, B64URL)}`],
  ["openai-key", `OPENAI_API_KEY=${"sk-" + R(20, 16) + "T3Blbk" + "FJ" + R(20, 17)}`],
  ["openai-key", `Authorization: Bearer ${"sk-" + "proj-" + R(74, 18, B64URL) + "T3Blbk" + "FJ" + R(74, 19, B64URL)}`],
  ["openai-key", `"${"sk-" + "proj-" + R(48, 20)}"`],
  ["openai-key", `key: ${"sk-" + R(48, 21)}`],
  ["slack-token", `SLACK_BOT_TOKEN=${"xo" + "xb-" + "17653672481-19874698323-" + R(24, 22)}`],
  ["slack-token", `${"xo" + "xp-" + "4015367212-4022512738-4089123443-" + R(32, 23, HEX)}`],
  ["slack-token", `${"xa" + "pp-" + "1-A04EQ8TKB7H-4929162739937-" + R(64, 24, HEX)}`],
  ["slack-webhook", `curl -X POST https://${"hooks.sl" + "ack.com"}/services/T${R(8, 25, UPPER_NUM)}/B${R(10, 26, UPPER_NUM)}/${R(24, 27)}`],
  ["stripe-key", `stripe.api_key = "${"sk" + "_live_" + R(24, 28)}"`],
  ["stripe-key", `${"rk" + "_live_" + R(99, 29)}`],
  ["private-key", `${"-----BEGIN " + "RSA PRIVATE KEY-----"}\nMIIEowIBAAKCAQEA${R(60, 30, B64)}\n`],
  ["private-key", `${"-----BEGIN " + "PRIVATE KEY-----"}\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC${R(40, 31, B64)}\\n`],
  ["private-key", `${"-----BEGIN " + "OPENSSH PRIVATE KEY-----"}\r\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ${R(40, 32, B64)}`],
  ["private-key", `${"-----BEGIN " + "EC PRIVATE KEY-----"}\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,${R(32, 33, HEX)}\n\n${R(64, 34, B64)}`],
  ["private-key", `${"-----BEGIN " + "PGP PRIVATE KEY BLOCK-----"}\nVersion: GnuPG v2\n\nlQOYBF${R(60, 35, B64)}`],
  ["jwt", `Authorization: Bearer ${"ey" + "JhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"}.${"ey" + "JzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxNzAwMDAwMDAwfQ"}.${R(43, 36, B64URL)}`],
  ["google-api-key", `https://maps.example/api?key=${"AI" + "za" + R(35, 37, B64URL)}`],
  ["npm-token", `//registry.example/:_authToken=${"np" + "m_" + R(36, 38)}`],
  ["gitlab-token", `PRIVATE-TOKEN: ${"gl" + "pat-" + R(20, 39)}`],
  ["gitlab-token", `${"gl" + "rt-" + R(20, 40)}`],
  ["huggingface-token", `HF_TOKEN=${"h" + "f_" + R(34, 41)}`],
  ["pypi-token", `password = ${"pypi-" + "AgEIcHlwaS5vcmc" + R(60, 42, B64URL)}`],
  ["sendgrid-key", `SENDGRID_API_KEY=${"S" + "G." + R(22, 43, B64URL) + "." + R(43, 44, B64URL)}`],
  ["digitalocean-token", `${"dop" + "_v1_" + R(64, 45, HEX)}`],
  ["shopify-token", `${"shp" + "at_" + R(32, 46, HEX)}`],
  ["docker-hub-token", `${"dckr" + "_pat_" + R(27, 47, B64URL)}`],
  ["age-secret-key", `${"AGE-SECRET" + "-KEY-1" + R(58, 48, AGE)}`],
  ["databricks-token", `token: ${"da" + "pi" + R(32, 49, HEX)}`],
  ["square-token", `${"sq0" + "atp-" + R(22, 50, B64URL)}`],
  ["square-token", `${"sq0" + "csp-" + R(43, 51, B64URL)}`],
  ["linear-key", `${"lin" + "_api_" + R(40, 52)}`],
  ["azure-storage-key", `DefaultEndpointsProtocol=https;AccountName=x;${"Account" + "Key="}${R(86, 53, B64)}==;EndpointSuffix=core.windows.net`],
];

// Near misses that ordinary text and code contain.
const negatives: [string, string][] = [
  ["aws docs example key", "AKIA" + "IOSFODNN7EXAMPLE"],
  ["aws docs example secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"],
  ["AKIA too short", "AKIA" + "ABCDEF"],
  ["AKIA inside a word", "XAKIA" + R(16, 60, UPPER_NUM)],
  ["40 base64 chars with no AWS label", `secret = ${R(40, 61, B64)}`],
  ["aws label with a short value", "aws_secret_access_key = changeme"],
  ["github prefix in docs", 'Tokens start with "ghp_" or "github_pat_".'],
  ["github token too short", "gh" + "p_" + R(20, 62)],
  ["sk-ant placeholder in docs", 'export ANTHROPIC_API_KEY="sk-ant-..."'],
  ["task-runner and friends", "task-runner-configuration-for-the-whole-monorepo desk-lamp risk-assessment-document"],
  ["sk- followed by words", "sk-this-is-not-a-real-key-it-is-just-a-long-identifier-with-dashes"],
  ["sk- followed by 48 lowercase letters", "sk-" + "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuv"],
  ["sk-proj- followed by words", "sk-proj-management-planning-and-general-administration-notes"],
  ["xoxb docs", "SLACK_BOT_TOKEN=xoxb-your-bot-token-here"],
  ["slack hooks host alone", "Post to https://hooks.slack.com/ with your webhook URL."],
  ["stripe test key", "sk" + "_test_" + R(24, 63)],
  ["PEM header in code", 'const H = "-----BEGIN PRIVATE KEY-----"; if (pem.startsWith(H)) parse(pem);'],
  ["PEM public key", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + R(40, 64, B64)],
  ["PEM certificate", "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa" + R(40, 65, B64)],
  ["jwt.io sample", "ey" + "JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.ey" + "JzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"],
  ["eyJ once", "eyJhbGciOiJIUzI1NiJ9 is a base64 JSON header"],
  ["AIza in base64 blob", R(100, 66, B64) + "AIza" + R(35, 67, B64URL) + R(100, 68, B64)],
  ["npm_ with words", "npm_config_registry npm_package_name npm_lifecycle_event"],
  ["npm_ with 36 letters only", "np" + "m_" + "abcdefghijklmnopqrstuvwxyzabcdefghij"],
  ["hf_ lowercase identifier", "hf_hub_download_with_cache_and_retries_x"],
  ["dapi identifier", "rapidapi dapi-client dapi_version"],
  ["SG. in code", "const msg = SG.init(); msg.content = MSG.body;"],
  ["glpat- docs", "glpat-xxxxxxxxxxxxxxxxxxxx"],
  ["seed phrase words", "abandon ability able about above absent absorb abstract absurd abuse access accident"],
  ["uuid and sha", "550e8400-e29b-41d4-a716-446655440000 3f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c"],
];

const dlp = compileDlp({ secrets: [], placeholders: [] });

function body(text: string): DlpFinding | null {
  const s = dlp.bodyScanner();
  return s.push(new TextEncoder().encode(text)) ?? s.end();
}

describe("built-in rules: true positives", () => {
  for (const [rule, text] of positives) {
    test(`${rule}: ${text.slice(0, 36).replace(/\s+/g, " ")}…`, () => {
      expect(body(text)).toEqual({ rule, where: "body" });
      expect(body(`prefix "${text}" suffix`)).toEqual({ rule, where: "body" });
    });
  }
  test("every rule has at least one true-positive case", () => {
    const covered = new Set(positives.map(([r]) => r));
    for (const r of RULES) expect(covered.has(r.name)).toBe(true);
  });
  test("a finding never contains the matched text", () => {
    for (const [, text] of positives) {
      const f = body(text)!;
      const json = JSON.stringify(f);
      for (const word of text.split(/[^A-Za-z0-9_-]+/)) if (word.length >= 12) expect(json).not.toContain(word);
    }
  });
});

describe("built-in rules: near misses stay clean", () => {
  for (const [name, text] of negatives) {
    test(name, () => expect(body(text)).toBeNull());
  }
});

describe("rules in URLs and headers", () => {
  test("token in a query string", () => {
    expect(dlp.scanUrl("api.x.com", `/search?q=${"gh" + "p_" + R(36, 70)}`)).toEqual({ rule: "github-token", where: "query" });
  });
  test("token percent-encoded in a query string", () => {
    const tok = "gh" + "p_" + R(36, 71);
    const enc = [...tok].map((c) => "%" + c.charCodeAt(0).toString(16)).join("");
    expect(dlp.scanUrl("api.x.com", `/search?q=${enc}`)).toEqual({ rule: "github-token", where: "query" });
  });
  test("token in a path", () => {
    expect(dlp.scanUrl("api.x.com", `/x/${"AK" + "IA" + R(16, 72, UPPER_NUM)}/y`)).toEqual({ rule: "aws-access-key", where: "path" });
  });
  test("token in a subdomain, lowercased", () => {
    const tok = ("AK" + "IA" + R(16, 73, UPPER_NUM)).toLowerCase();
    expect(dlp.scanUrl(`${tok}.x.com`, "/")).toEqual({ rule: "aws-access-key", where: "host" });
  });
  test("token in a header", () => {
    expect(dlp.scanHeaders([["accept", "*/*"], ["X-Debug", "key=" + "sk" + "_live_" + R(24, 74)]])).toEqual({ rule: "stripe-key", where: "header:x-debug" });
  });
  test("token in a header name does not echo the name", () => {
    expect(dlp.scanHeaders([["x-" + "gh" + "p_" + R(36, 75), "1"]])).toEqual({ rule: "github-token", where: "header-name" });
  });
  test("a Slack webhook request is not blocked for being a webhook URL", () => {
    expect(dlp.scanUrl("hooks.slack.com", `/services/T${R(8, 76, UPPER_NUM)}/B${R(10, 77, UPPER_NUM)}/${R(24, 78, "0123456789abcdef")}`)).toBeNull();
  });
});
