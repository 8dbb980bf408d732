import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { UserError } from "../errors.ts";
import { paths } from "./paths.ts";
import { isAlive, readPid, removeQuietly } from "./process.ts";

// Claiming a slug. Two independent guards, both atomic in the kernel:
// mkdir of <state>/<slug> fails with EEXIST when another launch already has
// that slug, and <state>/<slug>/up.lock is created with O_EXCL so that two
// `resume`s (or a resume racing an `up`) of the same preserved slug cannot
// both win. A lock whose holder is dead (kill -9) is stale and may be taken.

export interface Lock {
  file: string;
  release(): void;
}

export function acquireLock(stateDir: string, pid = process.pid): Lock {
  const file = paths.lock(stateDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      let released = false;
      return {
        file,
        release() {
          if (released) return;
          released = true;
          if (readPid(file) === pid) removeQuietly(file);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = readPid(file);
      if (holder !== null && holder !== pid && isAlive(holder)) {
        throw new UserError(`bottle ${stateDir.split("/").pop()} is in use by process ${holder}; wait for it or run 'claude-bottle down' on it`);
      }
      removeQuietly(file); // stale: its holder is gone
    }
  }
  throw new UserError(`could not lock ${file}; remove it if no claude-bottle process is running`);
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
