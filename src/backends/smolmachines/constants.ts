// Names and paths shared by the smolmachines modules. Facts about smolvm
// itself cite the file of smol-machines/smolvm they come from; the version
// read is v1.9.2-3-ga5df5001 (tag v1.9.3 carries the same CLI).

// Preflight floor. 1.9.0 is the first release with the #972 egress fix, and
// --label (1.8.0) and --mount-socket (1.6.4) are both older.
export const MIN_SMOLVM_VERSION = "1.9.0";

// Where the gate socket appears inside the VM (DESIGN.md shared conventions).
// smolvm requires an absolute guest path without ';' or '|'
// (src/cli/machine.rs::parse_published_sockets).
export const GUEST_GATE_SOCKET = "/run/claude-bottle/gate.sock";

// The in-VM relay: 127.0.0.1:RELAY_PORT -> GUEST_GATE_SOCKET.
export { RELAY_PORT } from "../guest.ts";

// Where a workspace lands inside the VM: the same place as in a docker
// bottle (one definition for both backends and the provisioner).
export { GUEST_WORKSPACE } from "../guest.ts";

// Labels every machine carries, so `ls`/`cleanup` never guess. smolvm stores
// labels opaquely and returns them from `machine ls --json`
// (src/cli/machine.rs::CreateCmd.labels, src/util.rs::parse_labels).
export const LABEL_OWNER = "claude-bottle";
export const LABEL_SLUG = "claude-bottle.slug";

export function machineName(slug: string): string {
  return `claude-bottle-${slug}`;
}
