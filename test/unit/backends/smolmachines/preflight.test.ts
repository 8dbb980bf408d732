import { describe, expect, test } from "bun:test";
import { checkPreflight, compareVersions, parseSmolvmVersion, type PreflightFacts } from "../../../../src/backends/smolmachines/preflight.ts";

const good: PreflightFacts = { platform: "linux", versionOutput: "smolvm 1.9.2\n", kvm: "ok", crun: true, env: {} };

describe("parseSmolvmVersion", () => {
  test("clap output and variants", () => {
    expect(parseSmolvmVersion("smolvm 1.9.2\n")).toEqual({ major: 1, minor: 9, patch: 2 });
    expect(parseSmolvmVersion("smolvm v1.10.0")).toEqual({ major: 1, minor: 10, patch: 0 });
    expect(parseSmolvmVersion("smolvm 1.9.3-rc.1+abc")).toEqual({ major: 1, minor: 9, patch: 3 });
    expect(parseSmolvmVersion("note: something\nsmolvm 2.0.1\n")).toEqual({ major: 2, minor: 0, patch: 1 });
    expect(parseSmolvmVersion("Error: smolvm binary not found")).toBeNull();
    expect(parseSmolvmVersion("smolvm")).toBeNull();
    expect(parseSmolvmVersion("other 1.9.2")).toBeNull();
  });
  test("compare is numeric, not lexical", () => {
    expect(compareVersions({ major: 1, minor: 10, patch: 0 }, { major: 1, minor: 9, patch: 0 })).toBeGreaterThan(0);
    expect(compareVersions({ major: 1, minor: 8, patch: 99 }, { major: 1, minor: 9, patch: 0 })).toBeLessThan(0);
  });
});

describe("checkPreflight", () => {
  test("all good", () => {
    expect(checkPreflight(good)).toEqual({ backend: "smolmachines", ok: true, problems: [] });
  });
  test("missing smolvm names both install routes and the docker fallback", () => {
    const r = checkPreflight({ ...good, versionOutput: null });
    expect(r.ok).toBe(false);
    expect(r.problems[0]?.what).toMatch(/not on PATH/);
    expect(r.problems[0]?.fix).toContain("brew install smol-machines/tap/smolvm");
    expect(r.problems[0]?.fix).toContain("install.sh");
    expect(r.problems[0]?.fix).toContain("--backend docker");
  });
  test("too old", () => {
    const r = checkPreflight({ ...good, versionOutput: "smolvm 1.8.3" });
    expect(r.ok).toBe(false);
    expect(r.problems[0]?.what).toBe("smolvm 1.8.3 is too old (need >= 1.9.0)");
    expect(r.problems[0]?.fix).toContain("--backend docker");
    expect(checkPreflight({ ...good, versionOutput: "smolvm 1.9.0" }).ok).toBe(true);
  });
  test("unreadable version output", () => {
    const r = checkPreflight({ ...good, versionOutput: "garbage", versionExitCode: 0 });
    expect(r.problems[0]?.what).toMatch(/could not read the smolvm version/);
    expect(checkPreflight({ ...good, versionOutput: "smolvm 1.9.2", versionExitCode: 1 }).ok).toBe(false);
  });
  test("kvm and crun on linux", () => {
    const missing = checkPreflight({ ...good, kvm: "missing" });
    expect(missing.problems.map((p) => p.what)).toEqual(["/dev/kvm does not exist (smolvm needs KVM)"]);
    expect(missing.problems[0]?.fix).toContain("--backend docker");
    const noAccess = checkPreflight({ ...good, kvm: "no-access" });
    expect(noAccess.problems[0]?.fix).toContain("kvm group");
    const noCrun = checkPreflight({ ...good, crun: false });
    expect(noCrun.problems[0]?.what).toMatch(/crun/);
    expect(noCrun.problems[0]?.fix).toContain("--backend docker");
  });
  test("macOS needs neither /dev/kvm nor crun", () => {
    expect(checkPreflight({ ...good, platform: "darwin", kvm: "missing", crun: false }).ok).toBe(true);
  });
  test("several problems at once", () => {
    const r = checkPreflight({ ...good, versionOutput: null, kvm: "missing", crun: false });
    expect(r.problems.length).toBe(3);
  });
  test("scrubbed SMOLVM_* variables are a note, not a failure, and values are not shown", () => {
    const r = checkPreflight({ ...good, env: { SMOLVM_EGRESS_FLOOR: "off", SMOLVM_PUBLISH_ADDR: "0.0.0.0", HOME: "/h" } });
    expect(r.ok).toBe(true);
    expect(r.problems[0]?.what).toContain("SMOLVM_EGRESS_FLOOR, SMOLVM_PUBLISH_ADDR");
    expect(r.problems[0]?.what).not.toContain("0.0.0.0");
  });
});
