import type { AgentManifest, BottleManifest, EgressRoute } from "../manifest/schema.ts";

// What Claude Code itself needs to reach (research/claude-code-network.md).
// These routes are merged into EVERY spec, so a user bottle cannot lose them
// by accident; a user route for the same host replaces the default one.

export const EMBEDDED = "<embedded>";
export const DEFAULT_AGENT = "default";
export const CLAUDE_BOTTLE = "claude";

// Hosts that receive Claude Code's own credential. Every one of them needs
// injection: a placeholder seen by a host without it is a DLP block.
const CREDENTIAL_HOSTS = ["api.anthropic.com", "mcp-proxy.anthropic.com"];

const PLAIN_HOSTS = [
  "statsig.anthropic.com",
  "sentry.io",
  "claude.ai",
  "platform.claude.com",
  "downloads.claude.ai",
  "raw.githubusercontent.com",
];

function route(host: string, extra: Partial<EgressRoute> = {}): EgressRoute {
  return { host, tls: "terminate", dlp: "on", allow_private: false, ...extra };
}

// Which host credential Claude Code uses: a long-lived OAuth token from
// `claude setup-token` wins over an API key. Only the variable's NAME goes into
// the spec; the gate reads the value from the host at launch.
export function claudeCredential(hostEnv: Record<string, string | undefined>): EgressRoute["auth"] | undefined {
  if (hostEnv.CLAUDE_CODE_OAUTH_TOKEN) return { header: "Authorization", scheme: "Bearer", token_ref: "CLAUDE_CODE_OAUTH_TOKEN" };
  if (hostEnv.ANTHROPIC_API_KEY) return { header: "x-api-key", scheme: "", token_ref: "ANTHROPIC_API_KEY" };
  return undefined;
}

export function claudeCodeRoutes(hostEnv: Record<string, string | undefined>): EgressRoute[] {
  const auth = claudeCredential(hostEnv);
  const withAuth = auth ? { auth } : {};
  return [
    // The model API legitimately receives source code: DLP there would
    // block the agent's normal work, so it is off for this host only.
    route("api.anthropic.com", { dlp: "off", ...withAuth }),
    route("mcp-proxy.anthropic.com", withAuth),
    ...PLAIN_HOSTS.map((h) => route(h)),
  ];
}

export function hostKey(host: string): string {
  return host.toLowerCase().replace(/\.$/, "");
}

// User routes first (they win), then every default route whose host the user
// did not name.
export function mergeClaudeRoutes(user: readonly EgressRoute[], defaults: readonly EgressRoute[]): EgressRoute[] {
  const named = new Set(user.map((r) => hostKey(r.host)));
  return [...user, ...defaults.filter((r) => !named.has(hostKey(r.host)))];
}

export function embeddedBottles(hostEnv: Record<string, string | undefined>): Record<string, BottleManifest> {
  return {
    [CLAUDE_BOTTLE]: { egress: claudeCodeRoutes(hostEnv) },
  };
}

export const embeddedAgents: Record<string, { manifest: AgentManifest; prompt: string }> = {
  [DEFAULT_AGENT]: { manifest: { bottle: CLAUDE_BOTTLE }, prompt: "" },
};
