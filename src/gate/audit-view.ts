import { closeSync, openSync, readSync, statSync, watch } from "node:fs";
import { paint } from "../ui/style.ts";
import { padEnd } from "../ui/table.ts";
import { escapeControls } from "./audit.ts";
import type { AuditRecord } from "./types.ts";

// `claude-bottle logs`: audit.jsonl as a table, or as the raw JSON lines.

// `color`: whether the terminal takes colour (ui/style.ts colorsFor).
// Every field is shown through escapeControls: the file is written ASCII by
// the gate, but the view does not trust that (an older gate, another
// writer, a damaged file), so what reaches the terminal is escaped here.
export function formatRow(r: AuditRecord, color = false): string {
  const t = (v: unknown): string => escapeControls(String(v ?? ""));
  const time = t(r.time).replace("T", " ").replace(/\.\d+Z$/, "Z");
  const hostPort = r.port && r.port !== 443 && r.port !== 80 ? `${t(r.host)}:${t(r.port)}` : t(r.host);
  const decision = r.decision === "allow" ? "allow" : paint(color, ["red", "bold"], "DENY") + " ";
  const status = r.status === null ? "   " : t(r.status);
  // The gate's own failures carry their layer in the reason already (the
  // answer the client reads says "gate: ..."): the layer is shown once.
  const layer = t(r.layer);
  const reason = t(r.reason);
  const why = !r.reason ? "" : reason.startsWith(`${layer}: `) ? `(${reason})` : `(${layer}: ${reason})`;
  return [time, decision, status, padEnd(t(r.method), 7), hostPort, t(r.path), why]
    .join("  ")
    .trimEnd();
}

export const HEADER = "time                  decision status method   host  path  (reason)";

export function formatLine(line: string, json: boolean, color = false): string | null {
  if (line.trim() === "") return null;
  // Raw lines: escaped the same way (\uXXXX is valid inside JSON strings).
  if (json) return escapeControls(line);
  try {
    return formatRow(JSON.parse(line) as AuditRecord, color);
  } catch {
    return `(unreadable audit line)`;
  }
}

// Calls `onLine` for every complete line from `offset` on; returns the new
// offset (a trailing partial line is left for the next call).
export function readLines(path: string, offset: number, onLine: (line: string) => void): number {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return offset;
  }
  if (size < offset) offset = 0; // truncated / replaced
  if (size === offset) return offset;
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    const text = buf.subarray(0, n).toString("utf8");
    const last = text.lastIndexOf("\n");
    if (last < 0) return offset;
    for (const line of text.slice(0, last).split("\n")) onLine(line);
    return offset + Buffer.byteLength(text.slice(0, last + 1));
  } finally {
    closeSync(fd);
  }
}

// Follow the file like `tail -f`: fs.watch for promptness plus a slow poll
// (watch events are not guaranteed on every filesystem).
export function follow(path: string, offset: number, onLine: (line: string) => void): () => void {
  let pos = offset;
  const tick = () => {
    pos = readLines(path, pos, onLine);
  };
  let watcher: ReturnType<typeof watch> | null = null;
  try {
    watcher = watch(path, tick);
  } catch {
    watcher = null;
  }
  const timer = setInterval(tick, 500);
  return () => {
    clearInterval(timer);
    watcher?.close();
  };
}
