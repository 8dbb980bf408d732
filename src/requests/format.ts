import { table } from "../ui/table.ts";
import type { RequestEntry } from "./store.ts";
import { clean, cleanLine } from "./sanitize.ts";
import { summarize } from "./tools.ts";

// `claude-bottle requests`: a table for people, JSON for scripts. Every
// agent-written string goes through the sanitizer before the terminal.

export function age(fromIso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(fromIso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function left(untilIso: string, now: Date): string {
  const ms = Date.parse(untilIso) - now.getTime();
  return ms <= 0 ? "expired" : age(new Date(now.getTime() - ms).toISOString(), now);
}

export function requestsJson(entries: RequestEntry[]): string {
  return (
    JSON.stringify(
      entries.map(({ request, answer, status }) => ({ ...request, status, answer })),
      null,
      2,
    ) + "\n"
  );
}

export function requestsTable(entries: RequestEntry[], now: Date): string {
  if (entries.length === 0) return "no pending requests\n";
  const rows = entries.map(({ request: r, status }) => [
    r.id,
    r.kind,
    status === "pending" ? `${age(r.created_at, now)} (${left(r.expires_at, now)} left)` : status,
    cleanLine(summarize(r)).slice(0, 120),
  ]);
  const [head, ...lines] = table([["ID", "KIND", "WAITING", "WHAT"], ...rows]);
  const out = [head!];
  entries.forEach((e, i) => {
    out.push(lines[i]!);
    out.push(`    why: ${cleanLine(e.request.justification).slice(0, 300)}`);
    if (e.answer?.note) out.push(`    note: ${cleanLine(e.answer.note).slice(0, 300)}`);
  });
  out.push("", "approve: claude-bottle approve <id> [--note ...]    reject: claude-bottle reject <id> [--note ...]");
  return out.join("\n") + "\n";
}

// Full text of one request (multi-line fields kept, control chars gone).
export function requestDetail(e: RequestEntry): string[] {
  const r = e.request;
  const lines = [`${r.id}  ${r.kind}  ${e.status}`, cleanLine(summarize(r))];
  if (r.kind === "stuck") lines.push(...clean(r.stuck.what).split("\n").map((l) => `  ${l}`));
  lines.push(`why: ${cleanLine(r.justification)}`);
  return lines;
}
