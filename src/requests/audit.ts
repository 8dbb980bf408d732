import { existsSync } from "node:fs";
import { openAudit } from "../gate/audit.ts";
import type { AuditRecord } from "../gate/types.ts";
import { paths } from "../state/paths.ts";
import type { SuperviseRequest } from "./schema.ts";
import { auditTarget } from "./tools.ts";

// Every supervise request and every answer leaves one line (layer
// "supervise") in the bottle's audit.jsonl, next to the gate's own
// decisions: `claude-bottle logs <slug>` tells the whole story. The gate
// and the operator's process both append through O_APPEND, one write per
// line, so lines never interleave. Only the id, the kind and the target go
// in: the agent's justification stays in the request file.

export type SuperviseEvent = "REQUEST" | "APPROVE" | "REJECT" | "TIMEOUT" | "GONE";

export function auditSupervise(stateDir: string, req: SuperviseRequest, event: SuperviseEvent, reason: string): void {
  // A bottle whose state is gone has no log to write to.
  if (!existsSync(stateDir)) return;
  const rec: AuditRecord = {
    time: new Date().toISOString(),
    bottle: req.slug,
    method: event,
    host: auditTarget(req),
    port: 0,
    path: null,
    decision: event === "APPROVE" ? "allow" : "deny",
    reason: `${req.id} ${reason}`.replace(/[\r\n]+/g, " ").slice(0, 500),
    layer: "supervise",
    status: null,
    bytes_out: 0,
    bytes_in: 0,
  };
  const sink = openAudit(paths.audit(stateDir));
  try {
    sink.write(rec);
  } finally {
    sink.close();
  }
}
