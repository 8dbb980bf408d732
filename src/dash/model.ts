import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { countAs } from "../gate/audit-count.ts";
import type { AuditRecord } from "../gate/types.ts";
import { pendingRequests, type RequestEntry } from "../requests/store.ts";
import { listStateDirs } from "../state/dirs.ts";
import { readMetadata } from "../state/metadata.ts";
import { paths } from "../state/paths.ts";
import { isAlive, readPid } from "../state/process.ts";

// What the dashboard shows, read from the state dirs and the request queue.
// One snapshot per redraw; every read tolerates files that vanish or are
// half-written meanwhile (bottles come and go while it runs).

export interface BottleRow {
  slug: string;
  agent: string;
  backend: string;
  status: string; // metadata status, or "gone" when its gate is not running
  gate: boolean; // gate process alive
  started_at: string | null;
  blocked: number; // deny lines in the recent audit tail
}

export interface Blocked {
  slug: string;
  time: string;
  method: string;
  host: string;
  port: number;
  path: string | null;
  reason: string;
  layer: string;
}

export interface Snapshot {
  now: Date;
  bottles: BottleRow[];
  pending: RequestEntry[];
  blocked: Blocked[]; // newest first
}

// Only the end of audit.jsonl is read: a busy bottle's log can be large.
const TAIL_BYTES = 64 * 1024;

export function tailLines(file: string, maxBytes = TAIL_BYTES): string[] {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    const n = readSync(fd, buf, 0, buf.length, start);
    const lines = buf.subarray(0, n).toString("utf8").split("\n");
    if (start > 0) lines.shift(); // a partial first line
    return lines.filter((l) => l.trim() !== "");
  } finally {
    closeSync(fd);
  }
}

export function blockedFrom(lines: string[], slug: string): Blocked[] {
  const out: Blocked[] = [];
  for (const l of lines) {
    let r: AuditRecord;
    try {
      r = JSON.parse(l) as AuditRecord;
    } catch {
      continue;
    }
    // What ls counts as blocked: a rule's refusal; not supervise lines (the
    // request flow itself, shown as requests), not an upstream the gate
    // could not reach.
    if (countAs(r) !== "blocked") continue;
    out.push({ slug, time: r.time, method: r.method, host: r.host, port: r.port, path: r.path, reason: r.reason ?? "", layer: r.layer });
  }
  return out;
}

export function loadSnapshot(home: string, now = new Date()): Snapshot {
  const bottles: BottleRow[] = [];
  const blocked: Blocked[] = [];
  for (const { slug, stateDir } of listStateDirs(home)) {
    const meta = readMetadata(stateDir);
    const pid = readPid(paths.gatePid(stateDir));
    const gate = pid !== null && isAlive(pid);
    const b = blockedFrom(tailLines(paths.audit(stateDir)), slug);
    blocked.push(...b);
    bottles.push({
      slug,
      agent: meta?.agent ?? "?",
      backend: meta?.backend ?? "?",
      status: meta?.status ?? (gate ? "running" : "unknown"),
      gate,
      started_at: meta?.started_at ?? null,
      blocked: b.length,
    });
  }
  blocked.sort((a, b) => b.time.localeCompare(a.time));
  return { now, bottles, pending: pendingRequests(home, now), blocked };
}
