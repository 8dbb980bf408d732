import { describe, expect, test } from "bun:test";
import { compileDlp, type Dlp, type DlpFinding } from "../../../../src/gate/dlp/index.ts";
import { base64Cores, MIN_VALUE_LENGTH, secretVariants } from "../../../../src/gate/dlp/variants.ts";
import { PROSE, randomToken } from "./corpus.ts";

const SECRET = "Zq8#mP2 vL/4+nR7tY1w"; // has characters every encoding treats specially
const PLACEHOLDER = "sk-" + "ant-oat01-" + randomToken(95, 9);
const dlp = compileDlp({
  secrets: [{ name: "MY_SECRET", value: SECRET }],
  placeholders: [{ name: "CLAUDE_CODE_OAUTH_TOKEN", value: PLACEHOLDER }],
});
const te = new TextEncoder();

function scan(d: Dlp, text: string | Uint8Array, chunk = 1 << 20): DlpFinding | null {
  const bytes = typeof text === "string" ? te.encode(text) : text;
  const s = d.bodyScanner();
  for (let i = 0; i < bytes.length; i += chunk) {
    const f = s.push(bytes.subarray(i, i + chunk));
    if (f) return f;
  }
  return s.end();
}

const b64 = (s: string) => Buffer.from(s).toString("base64");
const b64url = (s: string) => Buffer.from(s).toString("base64url");
const hex = (s: string) => Buffer.from(s).toString("hex");
const pctAll = (s: string, upper: boolean) =>
  [...Buffer.from(s)].map((b) => "%" + (upper ? b.toString(16).toUpperCase() : b.toString(16)).padStart(2, "0")).join("");

describe("own secret values in every encoding", () => {
  const encodings: [string, string][] = [
    ["raw", SECRET],
    ["encodeURIComponent", encodeURIComponent(SECRET)],
    ["form encoding (space as +)", encodeURIComponent(SECRET).replace(/%20/g, "+")],
    ["fully %-encoded, upper case", pctAll(SECRET, true)],
    ["fully %-encoded, lower case", pctAll(SECRET, false)],
    ["JSON string", JSON.stringify(SECRET)],
    ["hex lower", hex(SECRET)],
    ["hex upper", hex(SECRET).toUpperCase()],
    ["base64 alignment 0", b64(SECRET)],
    ["base64 alignment 1", b64("x" + SECRET)],
    ["base64 alignment 2", b64("xy" + SECRET)],
    ["base64 inside a longer payload", b64(`{"user":"me","password":"${SECRET}","remember":true}`)],
    ["base64url alignment 0", b64url(SECRET)],
    ["base64url alignment 1", b64url("x" + SECRET)],
    ["base64url alignment 2", b64url("xy" + SECRET)],
    ["basic auth header value", "Basic " + b64("admin:" + SECRET)],
  ];
  for (const [name, encoded] of encodings) {
    test(name, () => {
      expect(scan(dlp, `${PROSE}\n${encoded}\n${PROSE}`)).toEqual({ rule: "secret:MY_SECRET", where: "body" });
    });
  }
  test("the base64 cases really differ from each other", () => {
    expect(new Set([b64(SECRET), b64("x" + SECRET), b64("xy" + SECRET)].map((s) => s.slice(4, 12))).size).toBe(3);
    expect(b64url(SECRET)).not.toBe(b64(SECRET));
  });
  test("value is trimmed", () => {
    const d = compileDlp({ secrets: [{ name: "T", value: `  ${SECRET}\n` }], placeholders: [] });
    expect(scan(d, `x ${SECRET} y`)).toEqual({ rule: "secret:T", where: "body" });
  });
  test("case matters for raw values (secrets are case-sensitive)", () => {
    expect(scan(dlp, SECRET.toUpperCase())).toBeNull();
  });
  test("in the URL path, query (raw and decoded) and a header", () => {
    expect(dlp.scanUrl("api.x.com", `/a/${encodeURIComponent(SECRET)}`)).toEqual({ rule: "secret:MY_SECRET", where: "path" });
    expect(dlp.scanUrl("api.x.com", `/a?p=${b64url("k=" + SECRET)}`)).toEqual({ rule: "secret:MY_SECRET", where: "query" });
    // Partial, mixed-case percent-encoding only matches after decoding.
    const partial = encodeURIComponent(SECRET).replace("m", "%6d").replace("w", "%77").replace("%2B", "%2b").replace("%20", "+");
    expect(partial).not.toContain(SECRET.slice(0, 8));
    expect(dlp.scanUrl("api.x.com", `/a?p=${partial}`)).toEqual({ rule: "secret:MY_SECRET", where: "query" });
    expect(dlp.scanHeaders([["Cookie", `session=${encodeURIComponent(SECRET)}`]])).toEqual({ rule: "secret:MY_SECRET", where: "header:cookie" });
  });
  test("in a subdomain: hex, any case, split over labels", () => {
    const h = hex("xx" + SECRET);
    expect(dlp.scanUrl(`${h.slice(0, 30)}.${h.slice(30)}.evil.x.com`, "/")).toEqual({ rule: "secret:MY_SECRET", where: "host" });
    expect(dlp.scanUrl(`${h.toUpperCase().slice(0, 60)}.x.com`, "/")).toEqual({ rule: "secret:MY_SECRET", where: "host" });
  });
});

describe("placeholders", () => {
  test("a placeholder anywhere is reported by its name, not as a token shape", () => {
    expect(scan(dlp, `{"token":"${PLACEHOLDER}"}`)).toEqual({ rule: "placeholder:CLAUDE_CODE_OAUTH_TOKEN", where: "body" });
    expect(dlp.scanHeaders([["x-api-key", PLACEHOLDER]])).toEqual({ rule: "placeholder:CLAUDE_CODE_OAUTH_TOKEN", where: "header:x-api-key" });
    expect(dlp.scanUrl("api.x.com", `/?k=${PLACEHOLDER}`)).toEqual({ rule: "placeholder:CLAUDE_CODE_OAUTH_TOKEN", where: "query" });
  });
  test("a different token of the same shape is still a token-rule finding", () => {
    const other = "sk-" + "ant-oat01-" + randomToken(95, 10);
    expect(scan(dlp, other)).toEqual({ rule: "anthropic-key", where: "body" });
  });
  test("placeholders are found base64-encoded too", () => {
    expect(scan(dlp, b64("Bearer " + PLACEHOLDER))).toEqual({ rule: "placeholder:CLAUDE_CODE_OAUTH_TOKEN", where: "body" });
  });
});

describe("value length limits", () => {
  test(`values shorter than ${MIN_VALUE_LENGTH} characters are not matched`, () => {
    const d = compileDlp({ secrets: [{ name: "PIN", value: "1234" }, { name: "ENV", value: "dev" }, { name: "EMPTY", value: "" }], placeholders: [] });
    expect(secretVariants("1234")).toEqual([]);
    expect(scan(d, "PIN 1234, env dev, port 1234 " + PROSE)).toBeNull();
    expect(d.scanUrl("dev.x.com", "/1234?dev=1234")).toBeNull();
  });
  test(`a value of exactly ${MIN_VALUE_LENGTH} characters is matched`, () => {
    const d = compileDlp({ secrets: [{ name: "EIGHT", value: "k7Qw9zXp" }], placeholders: [] });
    expect(scan(d, "pass=k7Qw9zXp")).toEqual({ rule: "secret:EIGHT", where: "body" });
    expect(scan(d, "pass=k7Qw9zX")).toBeNull();
  });
  test("long values are matched over their whole length: any 127 bytes of them, head or tail", () => {
    const long = randomToken(4000, 11);
    const d = compileDlp({ secrets: [{ name: "LONG", value: long }], placeholders: [] });
    for (const at of [0, 1, 63, 64, 1000, 2500, 4000 - 127]) {
      expect(scan(d, "x" + long.slice(at, at + 127) + "x")).toEqual({ rule: "secret:LONG", where: "body" });
      expect(scan(d, b64("x" + long.slice(at, at + 127)))).toEqual({ rule: "secret:LONG", where: "body" });
    }
    // The last piece ends at the value's end, whatever its length.
    expect(scan(d, "x" + long.slice(4000 - 64) + "x")).toEqual({ rule: "secret:LONG", where: "body" });
    // Less than a piece is not enough (a coincidence, not a leak).
    expect(scan(d, "x" + long.slice(1001, 1001 + 63) + "x")).toBeNull();
    expect(scan(d, hex(long))).toEqual({ rule: "secret:LONG", where: "body" });
  });
  test("multi-byte characters", () => {
    const v = "пароль-секрет-🔑-42";
    const d = compileDlp({ secrets: [{ name: "U", value: v }], placeholders: [] });
    expect(scan(d, `{"p":"${v}"}`)).toEqual({ rule: "secret:U", where: "body" });
    expect(scan(d, encodeURIComponent(v))).toEqual({ rule: "secret:U", where: "body" });
    expect(scan(d, b64("a" + v))).toEqual({ rule: "secret:U", where: "body" });
  });
});

describe("base64Cores", () => {
  test("each core is a substring of the encoding at its alignment", () => {
    const v = new TextEncoder().encode("0123456789abcdef");
    const cores = base64Cores(v);
    expect(cores.length).toBe(3);
    for (let o = 0; o < 3; o++) {
      for (const prefix of ["", "a", "ab", "abc", "abcd"]) {
        if (prefix.length % 3 !== o) continue;
        for (const suffix of ["", "Z", "ZZ", "ZZZ"]) {
          expect(Buffer.from(prefix + "0123456789abcdef" + suffix).toString("base64")).toContain(cores[o]!);
        }
      }
    }
  });
});

describe("chunk boundaries", () => {
  const texts: [string, string, string][] = [
    ["raw secret", `lorem ipsum ${SECRET} dolor`, "secret:MY_SECRET"],
    ["base64 secret", `data=${b64("x" + SECRET)};`, "secret:MY_SECRET"],
    ["hex secret", `h=${hex(SECRET)}.`, "secret:MY_SECRET"],
    ["placeholder", `{"t":"${PLACEHOLDER}"}`, "placeholder:CLAUDE_CODE_OAUTH_TOKEN"],
    ["github token rule", `token=${"gh" + "p_" + randomToken(36, 12)}\n`, "github-token"],
    ["private key rule", `${"-----BEGIN " + "PRIVATE KEY-----"}\n${randomToken(64, 13)}\n`, "private-key"],
    ["jwt rule", `b ${"ey" + "JhbGciOiJFUzI1NiJ9"}.${"ey" + "JzdWIiOiJhYmMifQ"}.${randomToken(40, 14)}`, "jwt"],
  ];
  for (const [name, text, rule] of texts) {
    test(`${name} split in two at every offset`, () => {
      const bytes = te.encode(text);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const s = dlp.bodyScanner();
        const f = s.push(bytes.subarray(0, cut)) ?? s.push(bytes.subarray(cut)) ?? s.end();
        expect({ cut, f }).toEqual({ cut, f: { rule, where: "body" } });
      }
    });
  }
  test("fed one byte at a time", () => {
    for (const [, text, rule] of texts) expect(scan(dlp, text, 1)).toEqual({ rule, where: "body" });
  });
  test("split in three at many offset pairs", () => {
    const bytes = te.encode(`${PROSE.slice(0, 300)} ${SECRET} ${PROSE.slice(0, 300)}`);
    const at = PROSE.slice(0, 300).length + 1;
    for (let a = at - 5; a < at + 21; a++) {
      for (let b = a; b < at + 25; b += 3) {
        const s = dlp.bodyScanner();
        const f = s.push(bytes.subarray(0, a)) ?? s.push(bytes.subarray(a, b)) ?? s.push(bytes.subarray(b)) ?? s.end();
        expect(f).toEqual({ rule: "secret:MY_SECRET", where: "body" });
      }
    }
  });
  test("a finding is sticky: later pushes and end() repeat it", () => {
    const s = dlp.bodyScanner();
    const f = s.push(te.encode(SECRET));
    expect(f).toEqual({ rule: "secret:MY_SECRET", where: "body" });
    expect(s.push(te.encode("more"))).toEqual(f);
    expect(s.end()).toEqual(f);
  });
  test("a secret far into a large body, across the 64 KiB slice boundary", () => {
    for (const pos of [65536 - 10, 65536, 65536 * 3 - 7]) {
      const big = new Uint8Array(65536 * 4).fill(0x61);
      big.set(te.encode(SECRET), pos);
      expect(scan(dlp, big, 65536 * 4)).toEqual({ rule: "secret:MY_SECRET", where: "body" });
      expect(scan(dlp, big, 1000)).toEqual({ rule: "secret:MY_SECRET", where: "body" });
    }
  });
});
