import { closeSync, openSync, writeSync } from "node:fs";
import type { AuditRecord } from "./types.ts";

// Append-only JSON lines. Synchronous writes through one O_APPEND fd: a line
// is in the file before the client sees the response it describes, lines
// never interleave, and a crash loses nothing already answered. Records
// never hold header values or bodies, and what the bottle chose (host,
// method, SNI) is redacted when it carries a secret (redact.ts), so no
// secret can reach the file.
//
// Lines are ASCII: every character outside printable ASCII is a \uXXXX
// escape. JSON.stringify already escapes C0 controls; this also covers DEL,
// C1 (U+0080-U+009F, which some terminals obey as escape sequences), bidi
// overrides, U+2028/U+2029 and anything else a terminal or a line-based
// tool could misread. Nothing the bottle sends can add a line or put a
// terminal escape into the file.

const NON_ASCII = /[^\x20-\x7e]/g;
const u4 = (c: string): string => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");

export function auditJson(rec: unknown): string {
  return JSON.stringify(rec).replace(NON_ASCII, u4);
}

// For showing text from the audit (or any text the bottle chose) on a
// terminal: control and format characters (C0, DEL, C1, bidi and other
// invisible format characters, line and paragraph separators, lone
// surrogates) become \uXXXX, so a field can neither move the cursor nor
// reorder or hide what is around it, and a line stays one line.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

export function escapeControls(s: string): string {
  return s.replace(UNSAFE, (m) => [...Array(m.length).keys()].map((i) => u4(m[i]!)).join(""));
}

export interface AuditSink {
  write(rec: AuditRecord): void;
  close(): void;
}

export function openAudit(path: string): AuditSink {
  const fd = openSync(path, "a", 0o600);
  let closed = false;
  return {
    write(rec) {
      if (closed) return;
      writeSync(fd, auditJson(rec) + "\n");
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}

// What the gate knows when it decides; the rest of a record is filled in
// here, so every line has every field.
export type AuditEntry = Partial<AuditRecord> & Pick<AuditRecord, "method" | "host" | "port" | "decision" | "layer">;

export function auditRecord(e: AuditEntry, bottle: string, time = new Date()): AuditRecord {
  return {
    time: time.toISOString(),
    bottle,
    method: e.method,
    host: e.host,
    port: e.port,
    path: e.path ?? null,
    decision: e.decision,
    reason: e.reason ?? null,
    layer: e.layer,
    status: e.status ?? null,
    bytes_out: e.bytes_out ?? 0,
    bytes_in: e.bytes_in ?? 0,
  };
}

// The audit file never gets a query string (tokens live there), and a
// path DLP flagged is not written at all (callers pass null). The path is
// cut to its first 512 characters after redact.ts checked it whole.
export function auditPath(pathAndQuery: string | null): string | null {
  return pathAndQuery === null ? null : pathAndQuery.split("?")[0]!;
}

export interface GateLog {
  info(msg: string): void;
  error(msg: string): void;
  close(): void;
}

// gate.log: operational messages (start, reload, upstream errors). Messages
// are built by the gate from names and reasons, never from header values.
export function openLog(path: string | null): GateLog {
  const fd = path ? openSync(path, "a", 0o600) : -1;
  let closed = false;
  const line = (level: string, msg: string) => {
    if (closed || fd < 0) return;
    writeSync(fd, `${new Date().toISOString()} ${level} ${escapeControls(msg)}\n`);
  };
  return {
    info: (m) => line("info", m),
    error: (m) => line("error", m),
    close() {
      if (closed) return;
      closed = true;
      if (fd >= 0) closeSync(fd);
    },
  };
}
