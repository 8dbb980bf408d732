// Pure: how one audit line counts in `ls` and the dashboard. Blocked is what
// a rule refused: not the supervise queue's bookkeeping (a pending request is not blocked,
// nor is its answer a request), not the supervise MCP exchanges, and not an
// upstream the gate could not reach (5xx: nothing was refused). A 5xx that
// a rule gave (layer dlp: a response carrying the credential, refused with
// a 502) is a block.
export function countAs(rec: { decision?: unknown; layer?: unknown; status?: unknown }): "allowed" | "blocked" | null {
  if (rec.layer === "supervise") return null;
  if (rec.decision === "allow") return "allowed";
  if (rec.decision !== "deny") return null;
  if (typeof rec.status === "number" && rec.status >= 500 && rec.layer !== "dlp") return null;
  return "blocked";
}
