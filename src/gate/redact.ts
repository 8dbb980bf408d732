import type { AuditEntry } from "./audit.ts";
import type { Dlp } from "./dlp/index.ts";

// What of the bottle's own bytes may be written to the audit file. A host
// name, an SNI or a method that carried a secret is recorded in a redacted
// form, with the rule in the reason, never in clear: the audit file is read
// by people and tools that should not end up holding the secret.

export const REDACTED = "[redacted]";
const MAX_PATH = 512;

// "[redacted]." before the longest label suffix of `host` that scans clean
// (so the operator still sees which domain was asked for), or "[redacted]".
export function redactHost(dlp: Dlp, host: string): string {
  const labels = host.split(".");
  for (let i = 1; i < labels.length; i++) {
    const rest = labels.slice(i).join(".");
    if (dlp.scanHost(rest) === null) return `${REDACTED}.${rest}`;
  }
  return REDACTED;
}

// A host (or any name-like text the bottle sent: a CONNECT target, an SNI)
// as it may appear in the audit: itself when it scans clean, else redacted.
export function auditName(dlp: Dlp, name: string, fixed: string | null = null): { shown: string; rule: string | null } {
  const f = dlp.scanHost(name, fixed);
  return f ? { shown: redactHost(dlp, name), rule: f.rule } : { shown: name, rule: null };
}

// The reason for refusing a ClientHello whose SNI (null: not a valid name)
// names another host than the CONNECT did; the SNI is the bottle's text,
// shown only when it scans clean.
export function sniMismatch(dlp: Dlp, sni: string | null, host: string): string {
  if (sni === null) return `TLS SNI (invalid) does not match CONNECT target ${host}`;
  const a = auditName(dlp, sni.slice(0, 255));
  return `TLS SNI ${a.shown}${a.rule ? ` (dlp: ${a.rule})` : ""} does not match CONNECT target ${host}`;
}

// The last check before a line is written, for what the decision points
// did not already redact: known secrets and credential shapes (not
// entropy, which needs the route to judge) in the host, method, path and
// reason.
export function safeEntry(dlp: Dlp, e: AuditEntry): AuditEntry {
  const notes: string[] = [];
  let { host, method, path, reason } = e;
  let rule = host !== "-" ? dlp.findSecret(host) : null;
  if (rule) {
    host = redactHost(dlp, host);
    notes.push(`host (dlp: ${rule})`);
  }
  rule = dlp.findSecret(method);
  if (rule) {
    method = REDACTED;
    notes.push(`method (dlp: ${rule})`);
  }
  rule = path ? dlp.findSecret(path) : null;
  if (rule) {
    path = null;
    notes.push(`path (dlp: ${rule})`);
  }
  // Cut only after the whole path was checked: cut first, it could end in
  // the head of a secret that only the whole path shows to be one.
  if (path && path.length > MAX_PATH) path = path.slice(0, MAX_PATH);
  rule = reason ? dlp.findSecret(reason) : null;
  if (rule) reason = `${REDACTED} (dlp: ${rule})`;
  if (notes.length === 0 && rule === null) return path === e.path ? e : { ...e, path };
  if (notes.length > 0) reason = `${reason ?? ""}${reason ? "; " : ""}redacted ${notes.join(", ")}`;
  return { ...e, host, method, path, reason };
}
