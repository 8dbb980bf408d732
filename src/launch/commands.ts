import { existsSync, readFileSync } from "node:fs";
import type { Backend, BottleInfo } from "../backends/types.ts";
import { UserError } from "../errors.ts";
import type { BackendName } from "../backends/names.ts";
import type { Spec } from "../manifest/spec.ts";
import { readMetadata } from "../state/metadata.ts";
import { paths } from "../state/paths.ts";
import { checkSlug } from "../state/slug.ts";
import { agentArgv } from "./agent.ts";
import { composeCleanupPlan, executeCleanup, formatCleanupPlan, type CleanupPlan } from "./cleanup.ts";
import { down } from "./down.ts";
import { auditCounts, inspectAll } from "./inspect.ts";
import { formatTable, lsRows, type LsRow } from "./ls.ts";

// The effectful edge of the lifecycle commands (ls, down, cleanup, attach,
// exec). Command files parse arguments and call these; backends come in as
// a function so tests can pass fakes.

export interface Backends {
  get(name: BackendName): Promise<Backend>;
  usable(): Promise<{ name: BackendName; backend: Backend }[]>;
}

export async function listRows(home: string, backends: Backends, adoptStateless = ownsStateless()): Promise<LsRow[]> {
  const states = inspectAll(home);
  const mine = new Set(states.map((s) => s.slug));
  let bottles: BottleInfo[] | null = [];
  try {
    for (const { backend } of await backends.usable()) {
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

export async function downCommand(
  home: string,
  target: { slug?: string; all?: boolean },
  backends: Backends,
  err: (l: string) => void,
): Promise<number> {
  let slugs: string[];
  if (target.all) slugs = inspectAll(home).map((s) => s.slug);
  else if (target.slug) slugs = [checkSlug(target.slug)];
  else throw new UserError("say which bottle: 'claude-bottle down <slug>', or --all", 2);
  if (slugs.length === 0) {
    err("claude-bottle: no bottles");
    return 0;
  }
  const candidates = (await backends.usable()).map((b) => b.name);
  for (const slug of slugs) {
    const r = await down(home, slug, (n) => backends.get(n), candidates);
    if (!r.found) err(`claude-bottle: ${slug}: nothing to stop (already gone)`);
    else err(`claude-bottle: ${slug}: stopped and removed, state deleted${r.removedPreserved ? " (it was kept for resume)" : ""}`);
  }
  return 0;
}

// The default home owns every labelled bottle without a state dir elsewhere;
// a home chosen with CLAUDE_BOTTLE_HOME (tests, a second set-up) only its own.
export function ownsStateless(env: Record<string, string | undefined> = process.env): boolean {
  return !env.CLAUDE_BOTTLE_HOME;
}

export async function cleanupPlanFor(home: string, backends: Backends, adoptStateless: boolean): Promise<CleanupPlan> {
  const backendItems: { backend: BackendName; item: import("../backends/types.ts").CleanupItem }[] = [];
  const listed: BackendName[] = [];
  for (const { name, backend } of await backends.usable()) {
    for (const item of await backend.cleanupPlan()) backendItems.push({ backend: name, item });
    listed.push(name);
  }
  return composeCleanupPlan({ states: inspectAll(home), backendItems, adoptStateless, listed });
}

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

// The bottle of a slug, for attach/exec: must be running.
export async function runningBottle(home: string, slug: string, backends: Backends) {
  checkSlug(slug);
  const stateDir = paths.stateDir(home, slug);
  const meta = readMetadata(stateDir);
  if (!meta) throw new UserError(`no bottle ${slug}; 'claude-bottle ls' lists bottles`);
  const backend = await backends.get(meta.backend);
  const bottle = await backend.attach(slug);
  if (!bottle) throw new UserError(`bottle ${slug} is not running; 'claude-bottle ls' shows its status`);
  return { bottle, stateDir, meta };
}

export function savedSpec(stateDir: string): Spec {
  const file = paths.spec(stateDir);
  if (!existsSync(file)) throw new UserError(`state of ${stateDir} has no spec.json; start a new bottle with 'claude-bottle up'`);
  return JSON.parse(readFileSync(file, "utf8")) as Spec;
}

export async function attachCommand(home: string, slug: string, backends: Backends): Promise<number> {
  const { bottle, stateDir } = await runningBottle(home, slug, backends);
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  return bottle.exec(agentArgv(savedSpec(stateDir)), { tty, stdin: true });
}

export async function execCommand(home: string, slug: string, argv: string[], backends: Backends): Promise<number> {
  if (argv.length === 0) throw new UserError(`give a command: claude-bottle exec ${slug} -- <command> [args...]`, 2);
  const { bottle } = await runningBottle(home, slug, backends);
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  return bottle.exec(argv, { tty, stdin: true });
}
