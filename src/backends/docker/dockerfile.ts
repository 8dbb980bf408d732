import { GUEST_HOME_TAR } from "../guest.ts";
import { GUEST_HOME, GUEST_SOCK_DIR, GUEST_USER, GUEST_WORKSPACE, RELAY_PORT, GUEST_GATE_SOCKET } from "./constants.ts";

// The agent image's Dockerfile, embedded as text: the compiled binary has no
// files next to it. Pure; the build itself is in image.ts.

// Tools the bottle needs, as (command that proves it is there, Debian
// package that provides it). Only the missing ones are installed, so a base
// image that already has them (the test base, built offline) builds with no
// network at all.
export const REQUIRED_TOOLS: readonly (readonly [command: string, pkg: string])[] = [
  ["git", "git"],
  ["curl", "curl"],
  ["socat", "socat"],
  ["dig", "dnsutils"],
  // `ip -o addr`: the escape suite's proof that the bottle has only lo.
  ["ip", "iproute2"],
  ["update-ca-certificates", "ca-certificates"],
  ["tar", "tar"],
  ["node", "nodejs"],
  // The package managers an agent reaches for first; both trust the bottle's
  // CA through the variables in launch/trust-env.ts.
  ["npm", "npm"],
  ["pip3", "python3-pip"],
];

// Where the per-platform Claude Code package lands: ADD unpacks a local
// tarball in place (no copy of the archive stays in a layer), and npm packs
// put everything under package/.
export const AGENT_PACKAGE_FILE = "claude-code.tgz";
export const AGENT_INSTALL_DIR = "/opt/claude-code";
export const AGENT_BINARY = `${AGENT_INSTALL_DIR}/package/claude`;

export interface DockerfileInput {
  base: string;
  // The platform package tarball in the build context, or null: no agent CLI
  // in the image (tests only, CLAUDE_BOTTLE_AGENT_PACKAGE=none).
  agentPackage: string | null;
}

export function relayCommand(): string[] {
  // socat as the container's main process (under docker-init); `fork` serves
  // many connections and each dials the gate socket afresh, so a restarted
  // gate's new socket is picked up without restarting the relay.
  return ["socat", `TCP-LISTEN:${RELAY_PORT},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${GUEST_GATE_SOCKET}`];
}

// The bottle started with its home (LaunchContext.homeTar, mounted at
// GUEST_HOME_TAR): its first command unpacks it as the agent, then becomes
// the relay; so once the relay listens the home is in place, and no exec is
// needed for either. A tar that does not unpack ends the bottle, with tar's
// words on its log.
export function seededRelayCommand(): string[] {
  return ["sh", "-c", 'tar -xf "$0" -C "$1" && shift && exec "$@"', GUEST_HOME_TAR, GUEST_HOME, ...relayCommand()];
}

// Behind the bridge door the socket is the bridge container's, which starts
// beside the bottle: the relay listens only once the socket is there, so
// provisioning (which waits for the relay) also waits for the bridge, and the
// agent's first request finds it. (A fresh volume holds no socket until the
// bridge listens.) Said once, on the bottle's log, if it takes long.
export function bridgeRelayCommand(): string[] {
  const wait = 'i=0; until [ -S "$0" ]; do i=$((i+1)); [ "$i" -eq 400 ] && echo "relay: no gate socket from the bridge at $0 after 20 s" >&2; sleep 0.05; done; exec "$@"';
  return ["sh", "-c", wait, GUEST_GATE_SOCKET, ...relayCommand()];
}

function installMissingTools(): string {
  const checks = REQUIRED_TOOLS.map(([cmd, pkg]) => `command -v ${cmd} >/dev/null 2>&1 || pkgs="$pkgs ${pkg}"`).join("; \\\n    ");
  return [
    `RUN set -e; pkgs=""; \\`,
    `    ${checks}; \\`,
    `    if [ -n "$pkgs" ]; then \\`,
    `      apt-get update && apt-get install -y --no-install-recommends $pkgs && rm -rf /var/lib/apt/lists/*; \\`,
    `    fi`,
  ].join("\n");
}

// `node` exists in the official node images; a plain Debian base gets one.
function ensureUser(): string {
  return [
    `RUN set -e; \\`,
    `    if ! id -u ${GUEST_USER} >/dev/null 2>&1; then \\`,
    `      useradd --create-home --home-dir ${GUEST_HOME} --shell /bin/bash ${GUEST_USER}; \\`,
    `    fi; \\`,
    `    mkdir -p ${GUEST_HOME}/.claude ${GUEST_WORKSPACE} ${GUEST_SOCK_DIR}; \\`,
    // The socket folder is ${GUEST_USER}'s so that a docker volume mounted
    // there for the first time is too (docker copies the folder's owner into
    // a new volume): the bridge container serves the gate socket in it as
    // ${GUEST_USER}, not root (bridge.ts). The bottle mounts it read-only.
    `    chown ${GUEST_USER}:${GUEST_USER} ${GUEST_HOME} ${GUEST_HOME}/.claude ${GUEST_WORKSPACE} ${GUEST_SOCK_DIR}`,
  ].join("\n");
}

export function renderDockerfile(input: DockerfileInput): string {
  if (/\s/.test(input.base) || input.base.length === 0) throw new Error(`invalid base image reference: ${JSON.stringify(input.base)}`);
  const lines = [
    "# claude-bottle agent image (generated; see src/backends/docker/dockerfile.ts)",
    `FROM ${input.base}`,
    "USER root",
    "ENV DEBIAN_FRONTEND=noninteractive",
    installMissingTools(),
    ensureUser(),
  ];
  if (input.agentPackage !== null) {
    lines.push(
      `ADD ${input.agentPackage} ${AGENT_INSTALL_DIR}/`,
      // --version proves the binary runs on this base (glibc, arch) at build
      // time, not when the user first attaches.
      `RUN ln -sf ${AGENT_BINARY} /usr/local/bin/claude && HOME=/tmp claude --version`,
    );
  }
  lines.push(
    // The bottle has no way to reach an update server, and the image is the
    // pinned version by design.
    "ENV DISABLE_AUTOUPDATER=1",
    `WORKDIR ${GUEST_WORKSPACE}`,
    `USER ${GUEST_USER}`,
    `CMD ${JSON.stringify(relayCommand())}`,
    "",
  );
  return lines.join("\n");
}
