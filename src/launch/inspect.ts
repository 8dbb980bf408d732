import { existsSync, readFileSync } from "node:fs";
import { isPreserved, listStateDirs } from "../state/dirs.ts";
import { readMetadata, type Metadata } from "../state/metadata.ts";
import { countAs } from "../gate/audit-count.ts";
import { paths } from "../state/paths.ts";
import { isAlive, ownedBy, ownedGate, readPid } from "../state/process.ts";

// A snapshot of one state dir and the processes it names. Gathered once,
// then `ls` and `cleanup` decide with pure functions over it.
export interface StateSnapshot {
  slug: string;
  stateDir: string;
  meta: Metadata | null;
  preserved: boolean;
  stopping: boolean;
  ownerAlive: boolean;
  gatePid: number | null; // only if alive and ours
  supervisorPid: number | null; // only if alive and ours
  socketExists: boolean;
}

export function inspectState(slug: string, stateDir: string): StateSnapshot {
  const meta = readMetadata(stateDir);
  const gate = readPid(paths.gatePid(stateDir));
  const sup = readPid(paths.supervisorPid(stateDir));
  const lockHolder = readPid(paths.lock(stateDir));
  // The owner is `up` (foreground) or the supervisor (-d). A launch in
  // progress holds the lock. `up`'s own argv doesn't name the state dir, so
  // it is only checked for being alive; we never signal it.
  const ownerAlive =
    (meta?.owner_pid != null && meta.owner_pid !== process.pid && isAlive(meta.owner_pid)) ||
    (lockHolder !== null && lockHolder !== process.pid && isAlive(lockHolder));
  return {
    slug,
    stateDir,
    meta,
    preserved: isPreserved(stateDir),
    stopping: existsSync(paths.stopping(stateDir)),
    ownerAlive,
    gatePid: gate !== null && ownedGate(gate, stateDir) ? gate : null,
    supervisorPid: sup !== null && ownedBy(sup, stateDir) ? sup : null,
    socketExists: existsSync(paths.gateSocket(stateDir)),
  };
}

export function inspectAll(home: string): StateSnapshot[] {
  return listStateDirs(home).map(({ slug, stateDir }) => inspectState(slug, stateDir));
}

// allowed / blocked request counts from audit.jsonl (decision lines only;
// gate restart events carry no decision).
export function auditCounts(stateDir: string): { allowed: number; blocked: number } {
  let text: string;
  try {
    text = readFileSync(paths.audit(stateDir), "utf8");
  } catch {
    return { allowed: 0, blocked: 0 };
  }
  let allowed = 0;
  let blocked = 0;
  for (const line of text.split("\n")) {
    // Cheap pre-filter; the file can be long.
    if (!line.includes('"decision"')) continue;
    try {
      const c = countAs(JSON.parse(line) as Record<string, unknown>);
      if (c === "allowed") allowed++;
      else if (c === "blocked") blocked++;
    } catch {
      // a torn last line while the gate writes
    }
  }
  return { allowed, blocked };
}
