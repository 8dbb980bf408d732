import type { GatePolicy } from "./types.ts";

// What the bottle reads after a refusal of a host its policy does not name:
// the reason, then how to get the host allowed: the supervise tool when the
// bottle has it, else the operator's command with this bottle's slug. Only
// the answer carries it; the audit keeps the reason alone. The host is the
// one the reason already names (scanned by DLP before the decision).
export function answerReason(reason: string, layer: string, host: string, policy: Pick<GatePolicy, "slug" | "supervise">): string {
  if (layer !== "policy" || !reason.startsWith("host not in allowlist: ")) return reason;
  return policy.supervise
    ? `${reason} (ask the operator with the supervise tool request_egress)`
    : `${reason} (the operator can allow it: claude-bottle allow ${policy.slug} ${host})`;
}
