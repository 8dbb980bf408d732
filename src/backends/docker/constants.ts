// Names and paths shared by the docker backend modules.

// Claude Code, pinned. The image carries the native binary of the matching
// per-platform package (@anthropic-ai/claude-code-<platform>): the wrapper
// package's postinstall would only copy that same binary over its stub, and
// the binary needs neither node nor the network to run. The canary test
// (test/canaries/claude-code.test.ts) finds this pin by its text.
export const CLAUDE_CODE_PIN = "@anthropic-ai/claude-code@2.1.330";
export const CLAUDE_CODE_PACKAGE = "@anthropic-ai/claude-code";
export const CLAUDE_CODE_VERSION = CLAUDE_CODE_PIN.slice(CLAUDE_CODE_PACKAGE.length + 1);

// The base image when neither the bottle (`image:`) nor
// CLAUDE_BOTTLE_BASE_IMAGE names one. It has node and a `node` user; the
// Dockerfile adds only what is missing.
export const DEFAULT_BASE_IMAGE = "node:22-bookworm-slim";

// Env knobs (documented in the README section of the docker backend):
// - CLAUDE_BOTTLE_BASE_IMAGE: base image when the bottle has no `image:`.
// - CLAUDE_BOTTLE_AGENT_PACKAGE: unset -> the pinned Claude Code, staged on
//   the host with `npm pack`; a path -> that platform package tarball (for
//   offline hosts); `none` -> no Claude Code in the image. `none` exists for
//   the test suites, which must not depend on the npm registry.
export const ENV_BASE_IMAGE = "CLAUDE_BOTTLE_BASE_IMAGE";
export const ENV_AGENT_PACKAGE = "CLAUDE_BOTTLE_AGENT_PACKAGE";

// Image naming: the tag carries a prefix of the content hash; the full hash
// is a label, checked before an image is reused.
export const IMAGE_REPO = "claude-bottle/agent";
export const LABEL_IMAGE_HASH = "claude-bottle.image-hash";

// Labels every container carries, so `ls`/`cleanup` never guess.
export const LABEL_OWNER = "claude-bottle";
export const LABEL_SLUG = "claude-bottle.slug";
// The bridge door (bridge.ts): a bottle that uses it says so (`ls` then
// looks for its bridge), and the bridge container and its volume say what
// they are, so neither is ever taken for a bottle.
export const LABEL_DOOR = "claude-bottle.door";
export const LABEL_ROLE = "claude-bottle.role";

// Inside the container (DESIGN.md shared conventions).
export const GUEST_SOCK_DIR = "/run/claude-bottle";
export const GUEST_GATE_SOCKET = `${GUEST_SOCK_DIR}/gate.sock`;
export { RELAY_PORT } from "../guest.ts";
// User, home and workspace are shared with the other backend and the
// provisioner: defined once in src/backends/guest.ts.
export { GUEST_HOME, GUEST_USER, GUEST_WORKSPACE } from "../guest.ts";

// Every bottle gets a process ceiling, even without `resources:` in the
// manifest: a fork bomb in the agent's shell must not take the host down.
export const DEFAULT_PIDS_LIMIT = 4096;

export function containerName(slug: string): string {
  return `claude-bottle-${slug}`;
}

export function bridgeName(slug: string): string {
  return `claude-bottle-${slug}-bridge`;
}

export function doorVolumeName(slug: string): string {
  return `claude-bottle-${slug}-door`;
}
