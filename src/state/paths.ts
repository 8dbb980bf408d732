import { join } from "node:path";

// Everything claude-bottle keeps lives under one root, the home, so that
// `cleanup` and tests can point the whole tool somewhere else. Which root,
// and whether it may be used, is decided in one place: state/home.ts.
export { bottleHome } from "./home.ts";

export const paths = {
  bottlesDir: (home: string) => join(home, "bottles"),
  agentsDir: (home: string) => join(home, "agents"),
  stateRoot: (home: string) => join(home, "state"),
  stateDir: (home: string, slug: string) => join(home, "state", slug),
  cacheDir: (home: string) => join(home, "cache"),
  // Work of a `copy` workspace saved as a git bundle when its bottle went
  // (launch/save-work.ts); never read as manifests.
  savedDir: (home: string) => join(home, "saved"),
  // Per-bottle layout (DESIGN.md "State").
  metadata: (stateDir: string) => join(stateDir, "metadata.json"),
  sockDir: (stateDir: string) => join(stateDir, "sock"),
  gateSocket: (stateDir: string) => join(stateDir, "sock", "gate.sock"),
  caDir: (stateDir: string) => join(stateDir, "ca"),
  // Public trust material a backend may mount into the bottle (the CA
  // certificate and the system bundle that includes it); never the key.
  trustDir: (stateDir: string) => join(stateDir, "trust"),
  // The bridge door: how to (re)create the bottle's bridge container (no
  // secret in it; backends/docker/bridge.ts).
  bridge: (stateDir: string) => join(stateDir, "bridge.json"),
  // The agent's home as staged by provisioning, one tar (docker mounts it
  // into the bottle at start; otherwise it goes in through an exec).
  homeTar: (stateDir: string) => join(stateDir, "home.tar"),
  audit: (stateDir: string) => join(stateDir, "audit.jsonl"),
  gatePid: (stateDir: string) => join(stateDir, "gate.pid"),
  policy: (stateDir: string) => join(stateDir, "policy.json"),
  gateLog: (stateDir: string) => join(stateDir, "gate.log"),
  // Lifecycle files (src/launch, src/supervise, src/state).
  gateOut: (stateDir: string) => join(stateDir, "gate.out"),
  supervisorPid: (stateDir: string) => join(stateDir, "supervisor.pid"),
  supervisorLog: (stateDir: string) => join(stateDir, "supervisor.log"),
  lock: (stateDir: string) => join(stateDir, "up.lock"),
  preserve: (stateDir: string) => join(stateDir, ".preserve"),
  stopping: (stateDir: string) => join(stateDir, ".stopping"),
  spec: (stateDir: string) => join(stateDir, "spec.json"),
  plan: (stateDir: string) => join(stateDir, "plan.json"),
  // The host repository's ref tips when the workspace was copied in: what
  // the bottle's work is measured against when it is saved.
  baseTips: (stateDir: string) => join(stateDir, "base-tips"),
};

// A unix socket path must fit the kernel's sun_path: 104 bytes on macOS and
// 108 on Linux, NUL included. Checked before anything is created, because
// a gate that cannot bind leaves the bottle without its only door.
export const MAX_SOCKET_PATH = 103;

export function socketPathProblem(p: string): string | null {
  const n = Buffer.byteLength(p);
  if (n <= MAX_SOCKET_PATH) return null;
  return `the gate socket path ${p} is ${n} bytes, more than a unix socket allows (${MAX_SOCKET_PATH}); set CLAUDE_BOTTLE_HOME to a shorter folder or use a shorter agent name`;
}
