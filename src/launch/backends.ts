import type { BackendName } from "../backends/names.ts";
import type { Backend } from "../backends/types.ts";

// The backends as the lifecycle commands (ls, down, cleanup, attach, exec)
// see them: passed in as a value, so tests can pass fakes.
export interface Backends {
  get(name: BackendName): Promise<Backend>;
  usable(): Promise<{ name: BackendName; backend: Backend }[]>;
  // The backends whose tool is installed, found without running it: `ls`
  // asks each for its list and learns whether the engine answers from that
  // one call (one engine call per backend, not a probe and then a list).
  installed(): Promise<{ name: BackendName; backend: Backend }[]>;
}

// The real backends (loaded lazily).
export const realBackends: Backends = {
  async get(name) {
    return (await import("../backends/registry.ts")).getBackend(name);
  },
  async usable() {
    return (await import("../backends/registry.ts")).usableBackends();
  },
  async installed() {
    return (await import("../backends/registry.ts")).installedBackends();
  },
};

// The default home owns every labelled bottle without a state dir elsewhere;
// a home chosen with CLAUDE_BOTTLE_HOME (tests, a second set-up) only its own.
export function ownsStateless(env: Record<string, string | undefined> = process.env): boolean {
  return !env.CLAUDE_BOTTLE_HOME;
}
