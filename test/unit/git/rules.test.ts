import { describe, expect, test } from "bun:test";
import { branchGlobToRegExp, branchMatches } from "../../../src/git/glob.ts";
import { evaluateUpdate, updateKind, type PushRules } from "../../../src/git/rules.ts";

const Z = "0".repeat(40);
const A = "a".repeat(40);
const B = "b".repeat(40);
const base: PushRules = { allow_force: false, allow_delete: false, workspace: false };

describe("branch globs", () => {
  test("* stays within a segment", () => {
    expect(branchMatches(["feature/*"], "feature/x")).toBe(true);
    expect(branchMatches(["feature/*"], "feature/x/y")).toBe(false);
    expect(branchMatches(["feature/*"], "feature")).toBe(false);
    expect(branchMatches(["feature/*"], "xfeature/a")).toBe(false);
  });
  test("** crosses segments", () => {
    expect(branchMatches(["agent/**"], "agent/a/b")).toBe(true);
    expect(branchMatches(["a/**/z"], "a/z")).toBe(true);
    expect(branchMatches(["a/**/z"], "a/b/c/z")).toBe(true);
  });
  test("regex metacharacters are literal", () => {
    expect(branchMatches(["v1.0"], "v1x0")).toBe(false);
    expect(branchMatches(["v1.0"], "v1.0")).toBe(true);
    expect(branchGlobToRegExp("a+(b)").test("a+(b)")).toBe(true);
    expect(branchMatches(["rel-?"], "rel-1")).toBe(true);
    expect(branchMatches(["rel-?"], "rel-/")).toBe(false);
  });
});

describe("updateKind", () => {
  test("create, delete, ff, force", () => {
    expect(updateKind({ oldOid: Z, newOid: A, ref: "refs/heads/m" }, null)).toBe("create");
    expect(updateKind({ oldOid: A, newOid: Z, ref: "refs/heads/m" }, null)).toBe("delete");
    expect(updateKind({ oldOid: A, newOid: B, ref: "refs/heads/m" }, true)).toBe("fast-forward");
    expect(updateKind({ oldOid: A, newOid: B, ref: "refs/heads/m" }, false)).toBe("force");
    expect(updateKind({ oldOid: A, newOid: B, ref: "refs/tags/v1" }, true)).toBe("force");
  });
});

describe("evaluateUpdate", () => {
  const ff = { oldOid: A, newOid: B, ref: "refs/heads/main" };
  test("fast-forward allowed by default", () => {
    expect(evaluateUpdate(ff, true, base, "origin")).toEqual({ ok: true, kind: "fast-forward" });
  });
  test("force refused unless allow_force", () => {
    const r = evaluateUpdate(ff, false, base, "origin");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain("allow_force");
    expect(evaluateUpdate(ff, false, { ...base, allow_force: true }, "origin")).toEqual({ ok: true, kind: "force" });
  });
  test("delete refused unless allow_delete", () => {
    const del = { oldOid: A, newOid: Z, ref: "refs/heads/main" };
    const r = evaluateUpdate(del, null, base, "origin");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain("allow_delete");
    expect(evaluateUpdate(del, null, { ...base, allow_delete: true }, "origin").ok).toBe(true);
  });
  test("branch patterns", () => {
    const rules = { ...base, branches: ["feature/*"] };
    expect(evaluateUpdate({ oldOid: Z, newOid: A, ref: "refs/heads/feature/x" }, null, rules, "o").ok).toBe(true);
    const r = evaluateUpdate({ oldOid: Z, newOid: A, ref: "refs/heads/main" }, null, rules, "o");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe("branch 'main' is not allowed for 'o' (allowed: feature/*)");
    // Tags would be a way around a branch restriction.
    expect(evaluateUpdate({ oldOid: Z, newOid: A, ref: "refs/tags/v1" }, null, rules, "o").ok).toBe(false);
  });
  test("tags: create ok, move is a force", () => {
    expect(evaluateUpdate({ oldOid: Z, newOid: A, ref: "refs/tags/v1" }, null, base, "o").ok).toBe(true);
    expect(evaluateUpdate({ oldOid: A, newOid: B, ref: "refs/tags/v1" }, true, base, "o").ok).toBe(false);
  });
  test("other namespaces and workspace tags are refused", () => {
    expect(evaluateUpdate({ oldOid: Z, newOid: A, ref: "refs/notes/commits" }, null, base, "o").ok).toBe(false);
    expect(evaluateUpdate({ oldOid: Z, newOid: A, ref: "refs/upstream/heads/x" }, null, base, "o").ok).toBe(false);
    expect(evaluateUpdate({ oldOid: Z, newOid: A, ref: "refs/tags/v1" }, null, { ...base, workspace: true }, "w").ok).toBe(false);
    expect(evaluateUpdate({ oldOid: Z, newOid: A, ref: "refs/heads/x" }, null, { ...base, workspace: true }, "w").ok).toBe(true);
  });
});
