import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { paths } from "./paths.ts";

// Enumerating and settling state directories.

export function listStateDirs(home: string): { slug: string; stateDir: string }[] {
  let names: string[];
  try {
    names = readdirSync(paths.stateRoot(home));
  } catch {
    return [];
  }
  return names
    .filter((n) => {
      try {
        return statSync(paths.stateDir(home, n)).isDirectory();
      } catch {
        return false;
      }
    })
    .sort()
    .map((slug) => ({ slug, stateDir: paths.stateDir(home, slug) }));
}

export function isPreserved(stateDir: string): boolean {
  return existsSync(paths.preserve(stateDir));
}

export function markPreserved(stateDir: string, reason: string): void {
  // Never recreate a state dir that `down` removed meanwhile.
  if (!existsSync(stateDir)) return;
  writeFileSync(paths.preserve(stateDir), reason + "\n", { mode: 0o600 });
}

export function markStopping(stateDir: string): void {
  if (!existsSync(stateDir)) return;
  writeFileSync(paths.stopping(stateDir), `${process.pid}\n`, { mode: 0o600 });
}

export function isStopping(stateDir: string): boolean {
  return !existsSync(stateDir) || existsSync(paths.stopping(stateDir));
}

export function removeStateDir(stateDir: string): void {
  rmSync(stateDir, { recursive: true, force: true });
}
