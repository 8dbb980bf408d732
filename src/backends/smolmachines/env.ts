// The environment smolvm is spawned with.
//
// A few variables change what smolvm does to the guest's network, and the
// user's shell may carry them from other work. A sealed bottle has no NIC,
// so none of them should matter, but they are stripped anyway so a future
// smolvm that honours them in more places cannot widen a bottle:
// - SMOLVM_EGRESS_FLOOR / SMOLVM_EGRESS_ALLOW_PRIVATE (and any other
//   SMOLVM_EGRESS_*): the egress floor (crates/smolvm-network/src/egress.rs).
// - SMOLVM_PUBLISH_ADDR: the host address published ports bind to.
// - SMOLVM_GUEST_HOST_SERVICE: lets one gateway port through even under a
//   strict floor (src/network/launch.rs::guest_host_service), inherited by
//   the `_boot-vm` child.

export function isScrubbedVar(name: string): boolean {
  return name.startsWith("SMOLVM_EGRESS_") || name === "SMOLVM_PUBLISH_ADDR" || name === "SMOLVM_GUEST_HOST_SERVICE";
}

export function scrubSmolvmEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || isScrubbedVar(k)) continue;
    out[k] = v;
  }
  return out;
}

// Names present in `env` that scrubSmolvmEnv removes (for a preflight note).
export function scrubbedNames(env: Record<string, string | undefined>): string[] {
  return Object.keys(env)
    .filter((k) => env[k] !== undefined && isScrubbedVar(k))
    .sort();
}
