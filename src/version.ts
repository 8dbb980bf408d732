import pkg from "../package.json" with { type: "json" };

// Filled in by scripts/build.ts with --define; undefined when run from source.
declare const BUILD_COMMIT: string | undefined;
declare const BUILD_TARGET: string | undefined;

export const VERSION: string = pkg.version;

export function buildCommit(): string {
  if (typeof BUILD_COMMIT === "string") return BUILD_COMMIT;
  // Running from source: ask git, but never fail because of it.
  try {
    const r = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: import.meta.dir, stderr: "ignore" });
    const out = r.stdout.toString().trim();
    return r.exitCode === 0 && out ? `${out} (source)` : "unknown";
  } catch {
    return "unknown";
  }
}

export function buildTarget(): string {
  if (typeof BUILD_TARGET === "string") return BUILD_TARGET;
  return `bun-${process.platform}-${process.arch} (source)`;
}

export function versionLine(): string {
  return `claude-bottle ${VERSION} (commit ${buildCommit()}, target ${buildTarget()})`;
}
