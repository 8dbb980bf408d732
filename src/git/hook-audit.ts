import { appendFileSync } from "node:fs";
import type { AuditRecord } from "../gate/types.ts";
import type { HookConfig } from "./hook-config.ts";

// The pre-receive hook's deny lines in the bottle's audit.jsonl. The hook is
// its own process (receive-pack's child), so it appends one line with
// O_APPEND like the gate does: lines never interleave. `reason` comes from
// pre-receive.ts and holds rule names and commit ids only, never the text
// that matched.
export function auditRecord(config: HookConfig, reason: string, env: Record<string, string | undefined>): AuditRecord {
  return {
    time: new Date().toISOString(),
    bottle: config.audit?.bottle ?? "",
    method: "POST",
    host: "git.bottle.internal",
    port: Number(env.SERVER_PORT) || 443,
    path: `/${config.access.name}.git/git-receive-pack`,
    decision: "deny",
    reason: `git: ${reason}`,
    layer: "git",
    status: null,
    bytes_out: 0,
    bytes_in: 0,
  };
}

export function writeHookDeny(config: HookConfig, reason: string, env: Record<string, string | undefined>): void {
  if (!config.audit) return;
  appendFileSync(config.audit.file, JSON.stringify(auditRecord(config, reason, env)) + "\n", { mode: 0o600 });
}
