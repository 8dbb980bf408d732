import { chmodSync, cpSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

export const FIXTURES = join(import.meta.dir, "../fixtures/manifests");

// A private copy of a fixture (outside any git repo, so the workspace
// default is `none` unless a test runs `git init`).
export function copyFixture(name: string): { dir: string; home: string; repo: string; userHome: string } {
  const dir = mkdtempSync(join(tmpdir(), `cb-cli-${name}-`));
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  // A checkout made under umask 002 has group-writable folders; a home must
  // not be (state/home.ts), so the copy's home is made the user's alone.
  for (const d of [join(dir, "home"), join(dir, "home", "bottles")]) {
    if (statSync(d, { throwIfNoEntry: false })) chmodSync(d, 0o700);
  }
  const userHome = join(dir, "user-home");
  return { dir, home: join(dir, "home"), repo: join(dir, "repo"), userHome };
}

// Every path (with size and mtime) under dir: equal snapshots mean nothing
// was created, removed or rewritten.
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      const st = statSync(p, { throwIfNoEntry: false });
      out.push(`${relative(dir, p)} ${st?.size ?? "?"} ${st?.mtimeMs ?? "?"}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}
