import type { Backend, CleanupItem } from "../backends/types.ts";
import { markStopping } from "../state/dirs.ts";
import { paths } from "../state/paths.ts";
import { readPid, removeQuietly, terminate } from "../state/process.ts";
import { stopGate } from "../supervise/gate.ts";

// Tear-down pieces shared by the launcher's rollback, `down` and `cleanup`.
// All idempotent: each tolerates a resource that is already gone or was
// never created.

export function bottleName(slug: string): string {
  return `claude-bottle-${slug}`;
}

// Does a backend cleanup item belong to this slug? Backends name containers
// and machines `claude-bottle-<slug>`; match the whole name, not a prefix.
export function itemBelongsTo(item: CleanupItem, slug: string): boolean {
  if (item.slug) return item.slug === slug; // the backend read it from a label
  const name = bottleName(slug);
  const re = new RegExp(`(^|[^A-Za-z0-9_.-])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^A-Za-z0-9_.-])`);
  return item.id === name || item.id === slug || re.test(item.detail) || re.test(item.id);
}

// One engine call: the backend's remove is idempotent and takes the bottle
// by its name, whatever state it is in (created, running, stopped), so
// there is nothing to look up first, and no graceful stop to wait for: the
// bottle and everything in it go away either way.
export async function removeBottle(backend: Backend, slug: string): Promise<void> {
  await backend.handle(slug).remove();
}

export async function stopSupervisor(stateDir: string): Promise<void> {
  const pid = readPid(paths.supervisorPid(stateDir));
  if (pid !== null) await terminate(pid, stateDir);
  removeQuietly(paths.supervisorPid(stateDir));
}

// Everything but the state dir. The gate only after the supervisor is gone
// (it would restart the gate, and a gate started after we read gate.pid
// would be left running); the bottle meanwhile, since nothing restarts it
// (a bottle whose gate is gone has no way out at all: the relay's
// connections are refused).
export async function teardownResources(stateDir: string, slug: string, backend: Backend | null): Promise<void> {
  markStopping(stateDir);
  const [bottle, gate] = await Promise.allSettled([
    backend ? removeBottle(backend, slug) : Promise.resolve(),
    stopSupervisor(stateDir).then(() => stopGate(stateDir)),
  ]);
  for (const r of [bottle, gate]) if (r.status === "rejected") throw r.reason;
}
