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
  const name = bottleName(slug);
  const re = new RegExp(`(^|[^A-Za-z0-9_.-])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^A-Za-z0-9_.-])`);
  return item.id === name || item.id === slug || re.test(item.detail) || re.test(item.id);
}

export async function removeBottle(backend: Backend, slug: string): Promise<void> {
  const b = await backend.attach(slug);
  if (b) {
    try {
      await b.stop();
    } catch {
      // stopping a half-created bottle can fail; remove still applies
    }
    await b.remove();
  }
  // Anything left of this slug (created but never started, a crash between
  // create and start) is found by label.
  const rest = (await backend.cleanupPlan()).filter((i) => (i.kind === "container" || i.kind === "machine") && itemBelongsTo(i, slug));
  if (rest.length > 0) await backend.cleanup(rest);
}

export async function stopSupervisor(stateDir: string): Promise<void> {
  const pid = readPid(paths.supervisorPid(stateDir));
  if (pid !== null) await terminate(pid, stateDir);
  removeQuietly(paths.supervisorPid(stateDir));
}

// Everything but the state dir, in reverse order of creation: the
// supervisor first (or it would restart the gate), then the bottle, then the
// gate and its socket.
export async function teardownResources(stateDir: string, slug: string, backend: Backend | null): Promise<void> {
  markStopping(stateDir);
  await stopSupervisor(stateDir);
  if (backend) await removeBottle(backend, slug);
  await stopGate(stateDir);
}
