import { describe, expect, test } from "bun:test";
import { injectCredential, makePlaceholder, placeholderPrefix, withoutHeader } from "../../../../src/gate/credentials.ts";

const classOf = (c: string) => (/[a-z]/.test(c) ? "a" : /[A-Z]/.test(c) ? "A" : /[0-9]/.test(c) ? "0" : c);

describe("makePlaceholder", () => {
  const cases = [
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP_QRST-uvwxyzAA",
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef",
    "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx",
    "AKIAIOSFODNN7EXAMPLE",
    "plainsecretvalue12345",
  ];
  for (const real of cases) {
    test(`keeps prefix, length and character classes: ${real.slice(0, 12)}…`, () => {
      const p = makePlaceholder(real);
      expect(p).not.toBe(real);
      expect(p.length).toBe(real.length);
      const prefix = placeholderPrefix(real);
      expect(p.startsWith(prefix)).toBe(true);
      expect([...p].map(classOf).join("")).toBe([...real].map(classOf).join(""));
      // Random: two placeholders for the same value differ.
      expect(makePlaceholder(real)).not.toBe(p);
    });
  }

  test("prefix is up to the last - or _ within the first 16 characters", () => {
    expect(placeholderPrefix("sk-ant-api03-xyz")).toBe("sk-ant-api03-");
    expect(placeholderPrefix("ghp_abc")).toBe("ghp_");
    expect(placeholderPrefix("github_pat_11ABC_def")).toBe("github_pat_");
    expect(placeholderPrefix("abcdefghijklmnopq-r")).toBe("");
    expect(placeholderPrefix("nodelimiter")).toBe("");
  });

  test("body without letters or digits after the prefix: still not the real value", () => {
    const p = makePlaceholder("abc-");
    expect(p).not.toBe("abc-");
    expect(p.length).toBe(4);
  });

  test("the random body shares no long run with the real value", () => {
    const real = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";
    const p = makePlaceholder(real);
    let same = 0;
    for (let i = 4; i < real.length; i++) if (p[i] === real[i]) same++;
    expect(same).toBeLessThan(12);
  });
});

describe("injectCredential", () => {
  const auth = { header: "Authorization", scheme: "Bearer", token_ref: "T" };
  test("replaces the header carrying the placeholder (case-insensitive)", () => {
    const out = injectCredential([["accept", "*/*"], ["authorization", "Bearer ph"]], auth, "REAL");
    expect(out).toEqual([["accept", "*/*"], ["authorization", "Bearer REAL"]]);
  });
  test("sets it when absent; no scheme means the bare token", () => {
    const out = injectCredential([["accept", "*/*"]], { header: "x-api-key", scheme: "", token_ref: "T" }, "REAL");
    expect(out).toEqual([["accept", "*/*"], ["x-api-key", "REAL"]]);
  });
  test("duplicate headers collapse to one carrying the real value", () => {
    const out = injectCredential([["Authorization", "a"], ["Authorization", "b"]], auth, "REAL");
    expect(out).toEqual([["Authorization", "Bearer REAL"]]);
  });
  test("withoutHeader drops only that header", () => {
    expect(withoutHeader([["A", "1"], ["b", "2"], ["a", "3"]], "a")).toEqual([["b", "2"]]);
  });
});
