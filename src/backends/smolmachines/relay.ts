import { GUEST_GATE_SOCKET, RELAY_PORT } from "./constants.ts";

// The in-VM relay: 127.0.0.1:3128 -> the mounted gate socket.
//
// Where it runs. The relay is the machine's persistent workload (Smolfile
// entrypoint), launched by smolvm as a detached container on every `start`
// (src/cli/machine.rs::CreateCmd.command doc). Commands from `machine exec`
// join that running container (crates/smolvm-agent/src/main.rs::
// spawn_interactive_command -> spawn_exec_in_container, "joins its existing
// PID/mount/cgroup namespaces"). And no smolvm container gets a network
// namespace of its own: the OCI spec lists only pid, mount, ipc and uts
// (crates/smolvm-agent/src/oci.rs::OciSpec::new), so every container, the
// workload and every exec share the VM's single network namespace and its
// 127.0.0.1. The ready probe below checks exactly that at run time, so if a
// future smolvm changes it, launch fails loudly instead of leaving the agent
// without its door. The mounted socket itself is bind-mounted into every
// container's OCI spec (crates/smolvm-agent/src/publish_socket.rs module doc,
// inject_into_container).

export function relayEntrypoint(): string[] {
  // exec: socat becomes the container's main process; `fork` serves many
  // connections; each connection dials the gate socket afresh, so a gate
  // restart does not need a relay restart.
  return [
    "socat",
    `TCP-LISTEN:${RELAY_PORT},bind=127.0.0.1,fork,reuseaddr`,
    `UNIX-CONNECT:${GUEST_GATE_SOCKET}`,
  ];
}

// /proc/net/tcp shows local addresses as hex IP:PORT (little-endian IP), and
// state 0A is LISTEN. Reading it needs no tools in the image and opens no
// connection to the gate.
export function relayListeningProbe(): string[] {
  const port = RELAY_PORT.toString(16).toUpperCase().padStart(4, "0");
  return ["sh", "-c", `grep -q ' 0100007F:${port} 00000000:0000 0A ' /proc/net/tcp`];
}
