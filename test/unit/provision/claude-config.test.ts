import { describe, expect, test } from "bun:test";
import { apiKeyTail, claudeJson, renderClaudeSettings } from "../../../src/provision/claude-config.ts";

// The keys are the pinned Claude Code's own; that they really skip every
// first-run screen is shown on a real terminal in
// test/integration/agent/interactive.test.ts.
describe("Claude Code configuration in the bottle", () => {
  test("settings.json keeps nonessential traffic off and records the bypass-permissions consent", () => {
    const s = JSON.parse(renderClaudeSettings());
    expect(s.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe("1");
    expect(s.skipDangerousModePermissionPrompt).toBe(true);
  });

  test("onboarding done, theme chosen, the workspace trusted", () => {
    const c = claudeJson({ supervise: false, apiKeyPlaceholder: null });
    expect(c.hasCompletedOnboarding).toBe(true);
    expect(c.theme).toBe("dark");
    expect((c.projects as Record<string, { hasTrustDialogAccepted: boolean }>)["/workspace"]!.hasTrustDialogAccepted).toBe(true);
    expect(c.mcpServers).toBeUndefined();
    expect(c.customApiKeyResponses).toBeUndefined();
  });

  test("the placeholder key is approved by its last 20 characters, as Claude Code keys it", () => {
    const ph = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789";
    expect(apiKeyTail(` ${ph}\n`)).toBe("qrstuvwxyz0123456789");
    const c = claudeJson({ supervise: false, apiKeyPlaceholder: ph });
    expect(c.customApiKeyResponses).toEqual({ approved: ["qrstuvwxyz0123456789"], rejected: [] });
  });

  test("supervise registers the gate's MCP server over http", () => {
    const c = claudeJson({ supervise: true, apiKeyPlaceholder: null });
    expect(c.mcpServers).toEqual({ supervise: { type: "http", url: "http://supervise.bottle.internal/mcp" } });
  });
});
