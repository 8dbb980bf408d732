import { expect, test } from "bun:test";
import { SLUG_RE, makeSlug, randomSuffix } from "../../../src/state/slug.ts";

test("slug is <agent>-<5 base36>", () => {
  for (let i = 0; i < 200; i++) {
    const s = makeSlug("coder");
    expect(s).toMatch(/^coder-[0-9a-z]{5}$/);
    expect(s).toMatch(SLUG_RE);
  }
});

test("slugs differ between runs", () => {
  const seen = new Set(Array.from({ length: 500 }, () => makeSlug("a")));
  expect(seen.size).toBeGreaterThan(495);
});

test("bytes >= 252 are rejected so every character is equally likely", () => {
  const feed = [255, 252, 0, 35, 36, 71, 251, 253, 1, 2, 3];
  let i = 0;
  const s = randomSuffix((n) => Uint8Array.from({ length: n }, () => feed[i++ % feed.length]!));
  expect(s).toBe("0z0zz");
});
