import { describe, expect, test } from "bun:test";
import { selfCommand } from "../../../src/self.ts";
import { sh } from "./harness.ts";

// The hidden command fails closed outside the gate: no configuration in its
// environment means the push is refused, never waved through.
describe("claude-bottle hook", () => {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent" };
  test("pre-receive without the gate's configuration refuses", async () => {
    const r = await sh([...selfCommand(), "hook", "pre-receive"], { env, stdin: `${"0".repeat(40)} ${"a".repeat(40)} refs/heads/main\n` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("push rejected");
    expect(r.stderr).toContain("CLAUDE_BOTTLE_GIT_HOOK is not set");
  });
  test("an unknown hook name is an error", async () => {
    const r = await sh([...selfCommand(), "hook", "post-update"], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown hook 'post-update'");
  });
  test("hidden from --help", async () => {
    const r = await sh([...selfCommand(), "--help"], { env });
    expect(r.stdout + r.stderr).not.toMatch(/^\s*hook\b/m);
  });
});
