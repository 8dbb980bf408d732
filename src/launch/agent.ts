import type { Spec } from "../manifest/spec.ts";
import { GUEST_PROMPT_FILE } from "../backends/guest.ts";

// The agent's command line. The agent always runs without permission
// prompts: the bottle, not the agent, is the boundary.
// CLAUDE_BOTTLE_AGENT_ARGV (a JSON array) replaces it: for images without
// Claude Code (tests) or another agent CLI.
export function agentArgv(spec: Spec, env: Record<string, string | undefined> = process.env): string[] {
  const override = env.CLAUDE_BOTTLE_AGENT_ARGV;
  if (override) {
    const v = JSON.parse(override) as unknown;
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string")) return v as string[];
  }
  const argv = ["claude", "--dangerously-skip-permissions"];
  if (spec.prompt.trim().length > 0) argv.push("--append-system-prompt-file", GUEST_PROMPT_FILE);
  return argv;
}
