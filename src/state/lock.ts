import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { UserError } from "../errors.ts";
import { paths } from "./paths.ts";
import { isAlive, removeQuietly } from "./process.ts";

// Lock files, for every lock we take: a bottle's up.lock (two `resume`s of
// one slug, or a resume racing an `up`) and smolmachines' per-machine exec
// lock. A lock file holds "<pid> <nonce>", written in full before it is
// linked into place (link(2) fails with EEXIST when the name exists), so
// nobody ever reads half a lock.
//
// A lock whose holder is dead (kill -9) is stale and may be taken over. A
// check-then-remove takeover can be won twice: A and B both see the stale
// lock, A removes it and takes the name, then B removes A's fresh lock and
// takes it too. Here only the holder of a second lock, named after exactly
// the stale content, may remove it: "<file>.stale-<digest>", taken the same
// way (so a taker that dies mid-takeover is itself taken over). While one
// process holds that claim nobody else can remove the stale file and nobody
// can create the name (it exists), so the re-read before the unlink cannot
// go stale; whoever then links first wins the name.

export interface Lock {
  file: string;
  release(): void;
}

export type TryLock = { ok: true; lock: Lock } | { ok: false; holder: number };

// Contents of the locks this process holds: its own pid is alive, but a
// lock left under our pid by a dead earlier process (pid reuse) is stale.
const held = new Set<string>();

function readLock(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

function holderOf(content: string): number | null {
  const n = Number.parseInt(content.trim().split(/\s+/)[0] ?? "", 10);
  return Number.isInteger(n) && n > 0 ? n : null;
}

// Create `file` with `content`, atomically and only if it does not exist.
function linkNew(file: string, content: string): boolean {
  const tmp = `${file}.${process.pid}.${crypto.randomUUID()}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600, flag: "wx" });
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    removeQuietly(tmp);
  }
}

export function tryLock(file: string, pid = process.pid): TryLock {
  return attempt(file, pid, 0);
}

function attempt(file: string, pid: number, depth: number): TryLock {
  const content = `${pid} ${crypto.randomUUID()}\n`;
  for (let i = 0; i < 16; i++) {
    if (linkNew(file, content)) {
      held.add(content);
      let released = false;
      return {
        ok: true,
        lock: {
          file,
          release() {
            if (released) return;
            released = true;
            held.delete(content);
            // Nobody removes a live holder's lock, so this check holds.
            if (readLock(file) === content) removeQuietly(file);
          },
        },
      };
    }
    const seen = readLock(file);
    if (seen === null) continue; // released meanwhile
    const holder = holderOf(seen);
    if (holder !== null && (held.has(seen) || (holder !== pid && isAlive(holder)))) return { ok: false, holder };
    // Stale. Claims nest only when takers die mid-takeover.
    if (depth >= 8) throw new Error(`could not take over the stale lock ${file}`);
    const claim = attempt(`${file}.stale-${new Bun.CryptoHasher("sha256").update(seen).digest("hex").slice(0, 16)}`, pid, depth + 1);
    if (!claim.ok) return claim; // another live process is taking it over right now
    try {
      if (readLock(file) === seen) unlinkSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    } finally {
      claim.lock.release();
    }
  }
  throw new Error(`could not lock ${file}`);
}

// Wait for the lock, backing off from 5 ms to 200 ms.
export async function waitLock(file: string, timeoutMs: number): Promise<Lock> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + timeoutMs;
  let delay = 5;
  for (;;) {
    const r = tryLock(file);
    if (r.ok) return r.lock;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${file} (held by process ${r.holder})`);
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 200);
  }
}

// A bottle's up.lock; a live holder is a clear error.
export function acquireLock(stateDir: string, pid = process.pid): Lock {
  const r = tryLock(paths.lock(stateDir), pid);
  if (r.ok) return r.lock;
  throw new UserError(`bottle ${stateDir.split("/").pop()} is in use by process ${r.holder}; wait for it or run 'claude-bottle down' on it`);
}

// Create <home>/state/<slug>/ exclusively (0700). On a collision the caller's
// `remint` gives a fresh slug; without one the collision is an error.
export function claimStateDir(
  home: string,
  slug: string,
  remint?: () => string,
): { slug: string; stateDir: string } {
  mkdirSync(paths.stateRoot(home), { recursive: true, mode: 0o700 });
  let current = slug;
  for (let attempt = 0; attempt < 8; attempt++) {
    const dir = paths.stateDir(home, current);
    try {
      mkdirSync(dir, { mode: 0o700 });
      return { slug: current, stateDir: dir };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (!remint) throw new UserError(`state for bottle ${current} already exists; pick another slug or run 'claude-bottle down ${current}'`);
      current = remint();
    }
  }
  throw new UserError("could not find a free slug after 8 attempts; run 'claude-bottle cleanup'");
}
