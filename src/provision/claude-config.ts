import { GUEST_WORKSPACE } from "../backends/guest.ts";

// Claude Code's own configuration in the bottle, so that `up` lands at the
// agent's input prompt with no first-run screen. Each key below was read
// from the pinned Claude Code (2.1.330) and checked in a real terminal
// (test/integration/agent/interactive.test.ts):
//
// ~/.claude.json (global config)
// - hasCompletedOnboarding: skips the first-run flow (theme picker,
//   connectivity preflight, security notes, login).
// - theme: the theme picker's answer; "dark" is Claude Code's own default.
// - customApiKeyResponses.approved: the "Detected a custom API key" question
//   for ANTHROPIC_API_KEY, answered yes. Claude Code keys it by the last 20
//   characters of the trimmed key; here that is the placeholder's tail, the
//   only key the bottle ever holds.
// - projects[<workspace>].hasTrustDialogAccepted: "do you trust this folder".
// - mcpServers: user-scope MCP servers (settings.json does not hold them).
//
// ~/.claude/settings.json (user settings)
// - skipDangerousModePermissionPrompt: the "Bypass Permissions mode"
//   consent. The agent always runs with --dangerously-skip-permissions: the
//   bottle, not the agent, is the boundary (src/launch/agent.ts).

export const SUPERVISE_MCP_URL = "http://supervise.bottle.internal/mcp";

// Claude Code's key for an approved custom API key.
export function apiKeyTail(key: string): string {
  return key.trim().slice(-20);
}

export interface ClaudeJsonInput {
  supervise: boolean;
  // The placeholder the bottle holds in ANTHROPIC_API_KEY, or null when the
  // bottle gets none (an OAuth token, or no credential at all).
  apiKeyPlaceholder: string | null;
}

export function claudeJson(input: ClaudeJsonInput): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    hasCompletedOnboarding: true,
    theme: "dark",
    projects: { [GUEST_WORKSPACE]: { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true, allowedTools: [] } },
  };
  if (input.apiKeyPlaceholder) doc.customApiKeyResponses = { approved: [apiKeyTail(input.apiKeyPlaceholder)], rejected: [] };
  if (input.supervise) doc.mcpServers = { supervise: { type: "http", url: SUPERVISE_MCP_URL } };
  return doc;
}

export function renderClaudeJson(input: ClaudeJsonInput): string {
  return JSON.stringify(claudeJson(input), null, 2) + "\n";
}

// ~/.claude/settings.json: env the agent's own subprocesses keep even if a
// shell drops ours, and the bypass-permissions consent.
export function renderClaudeSettings(): string {
  const doc = {
    env: {
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
    },
    skipDangerousModePermissionPrompt: true,
  };
  return JSON.stringify(doc, null, 2) + "\n";
}
