import { describe, expect, test } from "bun:test";
import { destinationRef, mirrorView, parseRefList, syncCommands, trackingRef } from "../../../src/git/refs.ts";

const ws = { kind: "workspace" as const, slug: "dev-ab12c" };

describe("ref mapping", () => {
  test("remote upstreams map refs to themselves", () => {
    expect(destinationRef("refs/heads/main", { kind: "remote" })).toBe("refs/heads/main");
    expect(destinationRef("refs/tags/v1", { kind: "remote" })).toBe("refs/tags/v1");
  });
  test("workspace branches land in the bottle's namespace", () => {
    expect(destinationRef("refs/heads/feature/x", ws)).toBe("refs/heads/bottle/dev-ab12c/feature/x");
  });
  test("tracking refs live under refs/upstream", () => {
    expect(trackingRef("refs/heads/bottle/s/x")).toBe("refs/upstream/heads/bottle/s/x");
    expect(() => trackingRef("main")).toThrow();
  });
  test("workspace view: host branches, own pushes overlay, other bottles hidden", () => {
    const up = new Map([
      ["refs/heads/main", "1"],
      ["refs/heads/dev", "2"],
      ["refs/heads/bottle/dev-ab12c/main", "3"],
      ["refs/heads/bottle/dev-ab12c/topic", "4"],
      ["refs/heads/bottle/other-zzzzz/spy", "5"],
      ["refs/tags/v1", "6"],
      ["refs/pull/1/head", "7"],
    ]);
    expect(Object.fromEntries(mirrorView(up, ws))).toEqual({
      "refs/heads/main": "3",
      "refs/heads/dev": "2",
      "refs/heads/topic": "4",
      "refs/tags/v1": "6",
    });
    expect(Object.fromEntries(mirrorView(up, { kind: "remote" }))).toEqual({
      "refs/heads/main": "1",
      "refs/heads/dev": "2",
      "refs/heads/bottle/dev-ab12c/main": "3",
      "refs/heads/bottle/dev-ab12c/topic": "4",
      "refs/heads/bottle/other-zzzzz/spy": "5",
      "refs/tags/v1": "6",
    });
  });
  test("sync commands", () => {
    const cur = new Map([
      ["refs/heads/a", "1"],
      ["refs/heads/b", "2"],
    ]);
    const want = new Map([
      ["refs/heads/b", "3"],
      ["refs/heads/c", "4"],
    ]);
    expect(syncCommands(cur, want)).toEqual(["delete refs/heads/a 1", "update refs/heads/b 3 2", "create refs/heads/c 4"]);
    expect(syncCommands(want, want)).toEqual([]);
  });
  test("parseRefList", () => {
    expect(Object.fromEntries(parseRefList("abc refs/heads/a\ndef refs/tags/t\n"))).toEqual({
      "refs/heads/a": "abc",
      "refs/tags/t": "def",
    });
  });
});
