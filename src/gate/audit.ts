import { closeSync, openSync, writeSync } from "node:fs";
import type { AuditRecord } from "./types.ts";

// Append-only JSON lines. Synchronous writes through one O_APPEND fd: a line
// is in the file before the client sees the response it describes, lines
// never interleave, and a crash loses nothing already answered. Records
// never hold header values or bodies, so no secret can reach the file.

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
      writeSync(fd, JSON.stringify(rec) + "\n");
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
// path DLP flagged is not written at all (callers pass null).
export function auditPath(pathAndQuery: string | null): string | null {
  return pathAndQuery === null ? null : pathAndQuery.split("?")[0]!.slice(0, 512);
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
    writeSync(fd, `${new Date().toISOString()} ${level} ${msg.replace(/[\r\n]+/g, " ")}\n`);
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
