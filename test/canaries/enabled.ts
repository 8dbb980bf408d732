// Canaries check that the upstream things claude-bottle depends on still
// behave as we rely on (the pinned Claude Code release, smolvm's Smolfile
// schema). They reach the npm registry or real tools, so they are opt-in:
//   CLAUDE_BOTTLE_RUN_CANARIES=1 bun test test/canaries
// Without the variable every canary registers as skipped, never as failing.
export const canariesEnabled = process.env.CLAUDE_BOTTLE_RUN_CANARIES === "1";

export function canaryName(what: string, skipReason: string | undefined): string {
  return skipReason ? `canary: ${what} (skipped: ${skipReason})` : `canary: ${what}`;
}

export const OPT_IN = "set CLAUDE_BOTTLE_RUN_CANARIES=1 to run";
