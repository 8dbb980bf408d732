import type { BottleInfo } from "../backends/types.ts";
import type { BackendName } from "../backends/names.ts";
import { ownsStateless, type Backends } from "./backends.ts";
import { table } from "../ui/table.ts";
import { auditCounts, inspectAll, type StateSnapshot } from "./inspect.ts";

// `claude-bottle ls`: one row per bottle, from state dirs joined with what
// the backends report (a container without a state dir shows up too, as an
// orphan for `cleanup`).

export interface LsRow {
  slug: string;
  agent: string;
  backend: BackendName | "?";
  status: string;
  started_at: string | null;
  uptime_s: number | null;
  allowed: number;
  blocked: number;
  state_dir: string | null;
}

// The effectful edge: state dirs and what each installed backend lists. A
// backend whose engine does not answer makes the backends' view unknown
// (null), not empty: its bottles are not "gone" because docker is down.
export async function listRows(home: string, backends: Backends, adoptStateless = ownsStateless()): Promise<LsRow[]> {
  const states = inspectAll(home);
  const mine = new Set(states.map((s) => s.slug));
  let bottles: BottleInfo[] | null = [];
  try {
    for (const { backend } of await backends.installed()) {
      bottles.push(...(await backend.list()).filter((b) => adoptStateless || mine.has(b.slug)));
    }
  } catch {
    bottles = null;
  }
  return lsRows({ states, bottles, counts: auditCounts, now: Date.now() });
}

export function renderRows(rows: LsRow[], json: boolean): string {
  return json ? JSON.stringify(rows, null, 2) + "\n" : formatTable(rows);
}

export function lsRows(args: {
  states: StateSnapshot[];
  bottles: BottleInfo[] | null; // null: backends could not be asked
  counts: (stateDir: string) => { allowed: number; blocked: number };
  now: number;
}): LsRow[] {
  const bySlug = new Map((args.bottles ?? []).map((b) => [b.slug, b]));
  const rows: LsRow[] = args.states.map((s) => {
    const b = bySlug.get(s.slug);
    bySlug.delete(s.slug);
    const started = s.meta?.started_at ?? null;
    const t = started ? Date.parse(started) : NaN;
    return {
      slug: s.slug,
      agent: s.meta?.agent ?? "?",
      backend: s.meta?.backend ?? b?.backend ?? "?",
      status: rowStatus(s, args.bottles === null ? undefined : (b?.status ?? "missing"), b?.door),
      started_at: started,
      uptime_s: Number.isFinite(t) && !s.preserved ? Math.max(0, Math.floor((args.now - t) / 1000)) : null,
      ...args.counts(s.stateDir),
      state_dir: s.stateDir,
    };
  });
  for (const b of bySlug.values()) {
    rows.push({ slug: b.slug, agent: b.slug.replace(/-[0-9a-z]{5}$/, ""), backend: b.backend, status: "orphaned", started_at: null, uptime_s: null, allowed: 0, blocked: 0, state_dir: null });
  }
  return rows.sort((a, b) => a.slug.localeCompare(b.slug));
}

// bottle: the backend's view, undefined when unknown; door: its bridge
// door's bridge, when it has one.
export function rowStatus(s: StateSnapshot, bottle: BottleInfo["status"] | undefined, door?: BottleInfo["door"]): string {
  if (s.preserved) return s.meta?.exit_code != null ? `preserved (exit ${s.meta.exit_code})` : "preserved";
  if (s.stopping) return "stopping";
  if (!s.meta) return "orphaned";
  if (s.meta.status === "starting") return s.ownerAlive ? "starting" : "orphaned";
  if (!s.ownerAlive && s.gatePid === null) return "orphaned";
  if (bottle === "missing") return "orphaned";
  if (bottle !== undefined && bottle !== "running") return bottle;
  if (s.gatePid === null) return "gate-down";
  return door === "down" ? "door-down" : "running";
}

export function formatUptime(s: number | null): string {
  if (s === null) return "-";
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

export function formatTable(rows: LsRow[]): string {
  if (rows.length === 0) return "no bottles\n";
  const head = ["SLUG", "AGENT", "BACKEND", "STATUS", "UPTIME", "ALLOWED", "BLOCKED"];
  const body = rows.map((r) => [r.slug, r.agent, r.backend, r.status, formatUptime(r.uptime_s), String(r.allowed), String(r.blocked)]);
  const right = { align: "right" } as const;
  return table([head, ...body], { columns: [{}, {}, {}, {}, {}, right, right] }).join("\n") + "\n";
}
