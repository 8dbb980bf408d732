// The platforms a release ships. Names are `<os>-<arch>` as they appear in
// tarball names and install.sh; `bun` is the `--target` bun build --compile
// takes (its runtime for that platform comes from the npm registry on first
// use, then from ~/.bun/install/cache).
export interface ReleaseTarget {
  name: string;
  os: "linux" | "darwin";
  arch: "x64" | "arm64";
  bun: string;
}

export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  { name: "darwin-arm64", os: "darwin", arch: "arm64", bun: "bun-darwin-arm64" },
  { name: "darwin-x64", os: "darwin", arch: "x64", bun: "bun-darwin-x64" },
  { name: "linux-x64", os: "linux", arch: "x64", bun: "bun-linux-x64" },
  { name: "linux-arm64", os: "linux", arch: "arm64", bun: "bun-linux-arm64" },
];

// The target this machine runs, if it is one we ship (so tests and the bench
// know which binary they can execute).
export function hostTarget(platform: string = process.platform, arch: string = process.arch): ReleaseTarget | undefined {
  return RELEASE_TARGETS.find((t) => t.os === platform && t.arch === arch);
}

// `--targets linux-x64,darwin-arm64` -> those targets in release order.
// `host` stands for the running machine's target. Unknown names are an error
// that lists the valid ones, so a typo never silently ships fewer binaries.
export function parseTargets(spec: string | undefined): ReleaseTarget[] {
  if (spec === undefined || spec.trim() === "" || spec.trim() === "all") return [...RELEASE_TARGETS];
  const wanted = new Set<string>();
  for (const raw of spec.split(",")) {
    const name = raw.trim();
    if (name === "") continue;
    if (name === "host") {
      const h = hostTarget();
      if (!h) throw new Error(`this machine (${process.platform}-${process.arch}) is not a release target`);
      wanted.add(h.name);
      continue;
    }
    if (!RELEASE_TARGETS.some((t) => t.name === name)) {
      throw new Error(`unknown target '${name}'; valid: ${RELEASE_TARGETS.map((t) => t.name).join(", ")}, host, all`);
    }
    wanted.add(name);
  }
  return RELEASE_TARGETS.filter((t) => wanted.has(t.name));
}
