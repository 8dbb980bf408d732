import type { Backend, CleanupItem } from "../backends/types.ts";
import type { BackendName } from "../backends/names.ts";
import { markStopping, removeStateDir } from "../state/dirs.ts";
import { paths } from "../state/paths.ts";
import { removeQuietly, terminate } from "../state/process.ts";
import { padEnd } from "../ui/table.ts";
import { ownsStateless, type Backends } from "./backends.ts";
import { inspectAll, type StateSnapshot } from "./inspect.ts";
import { itemBelongsTo } from "./teardown.ts";

// `claude-bottle cleanup`: leftovers after a kill -9 of anything. The plan
// is a pure function of what was found; nothing of a live bottle is in it.
// A bottle is live while its owner (`up`, or the detached supervisor) runs.

export interface PlannedItem extends CleanupItem {
  slug: string | null;
  backend?: BackendName;
  stateDir?: string;
  pid?: number;
}

export interface CleanupPlan {
  items: PlannedItem[];
  kept: { slug: string; why: string }[];
}

export function isLive(s: StateSnapshot): boolean {
  if (s.stopping) return false;
  if (s.preserved) return false; // a preserved session has ended
  return s.ownerAlive || s.supervisorPid !== null;
}

export function composeCleanupPlan(args: {
  states: StateSnapshot[];
  backendItems: { backend: BackendName; item: CleanupItem }[];
  // Containers/machines with no state dir in this home may belong to
  // another home (CLAUDE_BOTTLE_HOME: tests, a second set-up) sharing the
  // same docker daemon; they are removed only when this is asked for.
  adoptStateless: boolean;
  // Backends whose bottles were listed (reachable): only for these does a
  // missing container/machine mean the bottle is gone.
  listed?: BackendName[];
}): CleanupPlan {
  const items: PlannedItem[] = [];
  const kept: CleanupPlan["kept"] = [];
  const known = args.states.map((s) => s.slug);
  const present = new Set(args.backendItems.filter(({ item }) => !item.door).map(({ item }) => known.find((k) => itemBelongsTo(item, k))).filter((k) => k !== undefined));
  // A detached bottle whose container/machine was removed outside
  // claude-bottle: its supervisor keeps the gate alive for nothing.
  const orphaned = (s: StateSnapshot) =>
    s.meta?.detached === true && s.meta.status === "running" && (args.listed ?? []).includes(s.meta.backend) && !present.has(s.slug);
  const live = new Set(args.states.filter((s) => isLive(s) && !orphaned(s)).map((s) => s.slug));
  let foreign = 0;

  // Bottles (containers, machines) first: by label/name, of dead or unknown slugs.
  for (const { backend, item } of args.backendItems) {
    const mine = known.find((k) => itemBelongsTo(item, k)) ?? null;
    if (mine !== null && live.has(mine)) continue;
    if (mine === null && !args.adoptStateless) {
      foreign++;
      continue;
    }
    items.push({ ...item, slug: mine ?? item.slug ?? slugFromItem(item), backend });
  }
  if (foreign > 0) kept.push({ slug: `${foreign} bottle(s)`, why: "no state in this home (another CLAUDE_BOTTLE_HOME?); 'cleanup --all' removes them" });
  for (const s of args.states) {
    if (live.has(s.slug)) {
      kept.push({ slug: s.slug, why: "running" });
      continue;
    }
    if (s.supervisorPid !== null) items.push({ kind: "process", id: String(s.supervisorPid), detail: `gate supervisor of ${s.slug} (pid ${s.supervisorPid})`, slug: s.slug, stateDir: s.stateDir, pid: s.supervisorPid });
    if (s.gatePid !== null) items.push({ kind: "process", id: String(s.gatePid), detail: `gate of ${s.slug} (pid ${s.gatePid})`, slug: s.slug, stateDir: s.stateDir, pid: s.gatePid });
    if (s.socketExists) items.push({ kind: "socket", id: paths.gateSocket(s.stateDir), detail: `stale gate socket of ${s.slug}`, slug: s.slug, stateDir: s.stateDir });
    if (s.preserved) kept.push({ slug: s.slug, why: "preserved for resume (remove with 'claude-bottle down')" });
    else items.push({ kind: "state", id: s.stateDir, detail: `state of ${s.slug}${s.meta ? "" : " (no metadata)"}`, slug: s.slug, stateDir: s.stateDir });
  }
  // A volume goes after the containers that mount it.
  const order = { container: 0, machine: 0, volume: 1, process: 2, socket: 3, state: 4 } as const;
  items.sort((a, b) => order[a.kind] - order[b.kind]);
  return { items, kept };
}

function slugFromItem(item: CleanupItem): string | null {
  const m = /claude-bottle-([a-z][a-z0-9-]*-[0-9a-z]{5})\b/.exec(`${item.id} ${item.detail}`);
  return m ? m[1]! : null;
}

export function formatCleanupPlan(plan: CleanupPlan): string {
  const lines: string[] = [];
  if (plan.items.length === 0) lines.push("nothing to clean up");
  else {
    lines.push("will remove:");
    for (const i of plan.items) lines.push(`  ${padEnd(i.kind, 9)} ${i.detail}`);
  }
  for (const k of plan.kept) lines.push(`  keep      ${k.slug}: ${k.why}`);
  return lines.join("\n") + "\n";
}

// Carry out a plan. Every action tolerates "already gone", so a second run,
// or a run racing another cleanup, is harmless.
export async function executeCleanup(
  plan: CleanupPlan,
  getBackend: (n: BackendName) => Promise<Backend>,
  err: (line: string) => void,
): Promise<number> {
  let failures = 0;
  // Mark first: no watcher or supervisor may restart a gate we remove.
  for (const i of plan.items) if (i.kind === "state" && i.stateDir) markStopping(i.stateDir);
  const byBackend = new Map<BackendName, CleanupItem[]>();
  for (const i of plan.items) {
    if ((i.kind === "container" || i.kind === "machine" || i.kind === "volume") && i.backend) {
      const { backend: _b, stateDir: _d, pid: _p, ...item } = i;
      byBackend.set(i.backend, [...(byBackend.get(i.backend) ?? []), item]);
    }
  }
  for (const [name, list] of byBackend) {
    try {
      await (await getBackend(name)).cleanup(list);
    } catch (e) {
      failures++;
      err(`claude-bottle: ${name}: could not remove ${list.map((l) => l.id).join(", ")}: ${(e as Error).message}`);
    }
  }
  for (const i of plan.items) {
    try {
      if (i.kind === "process" && i.pid && i.stateDir) await terminate(i.pid, i.stateDir);
      else if (i.kind === "socket") removeQuietly(i.id);
      else if (i.kind === "state" && i.stateDir) removeStateDir(i.stateDir);
    } catch (e) {
      failures++;
      err(`claude-bottle: could not remove ${i.detail}: ${(e as Error).message}`);
    }
  }
  return failures;
}

// The effectful edge: what is found now, across the usable backends.
export async function cleanupPlanFor(home: string, backends: Backends, adoptStateless: boolean): Promise<CleanupPlan> {
  const backendItems: { backend: BackendName; item: CleanupItem }[] = [];
  const listed: BackendName[] = [];
  for (const { name, backend } of await backends.usable()) {
    for (const item of await backend.cleanupPlan()) backendItems.push({ backend: name, item });
    listed.push(name);
  }
  return composeCleanupPlan({ states: inspectAll(home), backendItems, adoptStateless, listed });
}

// The command: show the plan (stdout), ask, carry it out; exit 1 if any
// removal failed.
export async function cleanupCommand(
  home: string,
  opts: { yes: boolean; dryRun: boolean; all?: boolean },
  backends: Backends,
  io: { out: (s: string) => void; err: (l: string) => void; confirm: (q: string) => Promise<boolean> },
): Promise<number> {
  const plan = await cleanupPlanFor(home, backends, Boolean(opts.all) || ownsStateless());
  io.out(formatCleanupPlan(plan));
  if (plan.items.length === 0 || opts.dryRun) return 0;
  if (!opts.yes && !(await io.confirm("claude-bottle: remove these?"))) {
    io.err("claude-bottle: nothing removed");
    return 0;
  }
  const failures = await executeCleanup(plan, (n) => backends.get(n), io.err);
  io.err(`claude-bottle: removed ${plan.items.length - failures} of ${plan.items.length}`);
  return failures > 0 ? 1 : 0;
}
