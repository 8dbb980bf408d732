// The guest side every backend builds to: the agent image (docker's
// Dockerfile, also exported for smolvm) has this user, home and workspace,
// and provisioning writes there. One place, so a backend and the provisioner
// can never disagree about where the agent lives.
export const GUEST_USER = "node";
export const GUEST_HOME = "/home/node";
export const GUEST_WORKSPACE = "/workspace";
// The agent's system prompt, written by provisioning and named on the
// agent's command line.
export const GUEST_PROMPT_FILE = `${GUEST_HOME}/.claude-bottle/prompt.md`;
// The bottle's CA alone (NODE_EXTRA_CA_CERTS names it), and the system
// bundle every OpenSSL/GnuTLS tool reads (/usr/lib/ssl/cert.pem links to it;
// SSL_CERT_FILE and REQUESTS_CA_BUNDLE name it). At launch the bundle is the
// image's own bundle plus the bottle's CA; nothing regenerates it in the
// bottle (update-ca-certificates took seconds).
export const GUEST_CA_FILE = "/usr/local/share/ca-certificates/claude-bottle.crt";
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

// Every backend runs a relay as the bottle's workload: 127.0.0.1:RELAY_PORT
// inside, forwarded to the gate's socket. The proxy variables name it.
export const RELAY_PORT = 3128;

// How the relay's socket reads in /proc/net/tcp (hex IP:PORT, the IP
// little-endian; state 0A is LISTEN): how a bottle is seen to be ready, from
// inside (provisioning's home step) or, for docker, from the host (the
// kernel's table of the container's network namespace). No tool, no
// connection.
export function relayListenLine(port = RELAY_PORT): string {
  return ` 0100007F:${port.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A `;
}

// Where a backend that starts the bottle with its home already in it (docker,
// LaunchContext.homeTar) mounts the home's tar, read-only, for the bottle's
// first command to unpack before the relay starts.
export const GUEST_HOME_TAR = "/run/claude-bottle-home.tar";

// Root by NAME: docker's `exec -u` takes a name or a uid, but the
// smolmachines backend switches users with `runuser -u`, which only takes a
// name (`runuser -u 0` fails: "user 0 does not exist").
export const GUEST_ROOT = "root";
