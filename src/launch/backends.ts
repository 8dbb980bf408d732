import type { Backends } from "./commands.ts";

// The real backends for the lifecycle commands (loaded lazily).
export const realBackends: Backends = {
  async get(name) {
    return (await import("../backends/registry.ts")).getBackend(name);
  },
  async usable() {
    return (await import("../backends/registry.ts")).usableBackends();
  },
};
