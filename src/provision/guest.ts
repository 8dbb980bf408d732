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
// The bottle's CA in the system store (update-ca-certificates picks it up),
// also named by NODE_EXTRA_CA_CERTS; the rebuilt bundle is SSL_CERT_FILE.
export const GUEST_CA_FILE = "/usr/local/share/ca-certificates/claude-bottle.crt";
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

// Root by NAME: docker's `exec -u` takes a name or a uid, but the
// smolmachines backend switches users with `runuser -u`, which only takes a
// name (`runuser -u 0` fails: "user 0 does not exist").
export const GUEST_ROOT = "root";
