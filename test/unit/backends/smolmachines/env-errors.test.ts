import { describe, expect, test } from "bun:test";
import { scrubSmolvmEnv, scrubbedNames } from "../../../../src/backends/smolmachines/env.ts";
import { classifyExit, isNotFound, isNotRunning } from "../../../../src/backends/smolmachines/errors.ts";

describe("scrubSmolvmEnv", () => {
  test("drops SMOLVM_EGRESS_*, SMOLVM_PUBLISH_ADDR, SMOLVM_GUEST_HOST_SERVICE and undefined; keeps the rest", () => {
    const env = {
      PATH: "/bin",
      HOME: "/h",
      SMOLVM_EGRESS_FLOOR: "off",
      SMOLVM_EGRESS_ALLOW_PRIVATE: "1",
      SMOLVM_EGRESS_ANYTHING_NEW: "x",
      SMOLVM_PUBLISH_ADDR: "0.0.0.0",
      SMOLVM_GUEST_HOST_SERVICE: "80:80",
      SMOLVM_AGENT_ROOTFS: "/keep", // set by smolvm's own wrapper script
      UNDEF: undefined,
    };
    expect(scrubSmolvmEnv(env)).toEqual({ PATH: "/bin", HOME: "/h", SMOLVM_AGENT_ROOTFS: "/keep" });
    expect(scrubbedNames(env)).toEqual(["SMOLVM_EGRESS_ALLOW_PRIVATE", "SMOLVM_EGRESS_ANYTHING_NEW", "SMOLVM_EGRESS_FLOOR", "SMOLVM_GUEST_HOST_SERVICE", "SMOLVM_PUBLISH_ADDR"]);
  });
});

describe("classifyExit", () => {
  test("0 is ok", () => expect(classifyExit(0, "Error: x")).toEqual({ kind: "ok" }));
  test("smolvm's own error: exit 1 with a final Error: line", () => {
    expect(classifyExit(1, "Error: agent operation failed: connect: machine 'm' is not running. Use 'smolvm machine start --name m' first.\n")).toEqual({
      kind: "smolvm-error",
      message: "agent operation failed: connect: machine 'm' is not running. Use 'smolvm machine start --name m' first.",
    });
  });
  test("a guest exit 1 with other stderr is the guest's", () => {
    expect(classifyExit(1, "grep: nothing found\n")).toEqual({ kind: "guest-exit", code: 1 });
    expect(classifyExit(1, "")).toEqual({ kind: "guest-exit", code: 1 });
    // An Error: line that is not the last line came from the guest.
    expect(classifyExit(1, "Error: from guest\nmore output\n")).toEqual({ kind: "guest-exit", code: 1 });
    // A guest's own final `Error:` line that is not one of smolvm's error kinds.
    expect(classifyExit(1, "Error: ENOENT: no such file\n")).toEqual({ kind: "guest-exit", code: 1 });
    expect(classifyExit(1, "Error: vm not found: x\n")).toEqual({ kind: "smolvm-error", message: "vm not found: x" });
  });
  test("other codes pass through, even with Error: text", () => {
    expect(classifyExit(42, "Error: guest said so")).toEqual({ kind: "guest-exit", code: 42 });
    expect(classifyExit(137, "")).toEqual({ kind: "guest-exit", code: 137 });
  });
  test("clap usage errors: exit 2 with lowercase error:", () => {
    expect(classifyExit(2, "error: unexpected argument '--bogus' found\n\nUsage: smolvm machine exec\n")).toEqual({ kind: "usage-error", message: "unexpected argument '--bogus' found" });
    expect(classifyExit(2, "")).toEqual({ kind: "guest-exit", code: 2 });
  });
  test("not-found and not-running messages", () => {
    expect(isNotFound("vm not found: claude-bottle-x")).toBe(true);
    expect(isNotFound("config operation failed: machine status: machine 'x' not found")).toBe(true);
    expect(isNotFound("machine 'x' is not running")).toBe(false);
    expect(isNotRunning("agent operation failed: connect: machine 'x' is not running. Use 'smolvm machine start --name x' first.")).toBe(true);
  });
});
