// The guest side every backend builds to: the agent image (docker's
// Dockerfile, also exported for smolvm) has this user, home and workspace,
// and provisioning writes there. One place, so a backend and the provisioner
// can never disagree about where the agent lives.
export const GUEST_USER = "node";
export const GUEST_HOME = "/home/node";
export const GUEST_WORKSPACE = "/workspace";

// Root by NAME: docker's `exec -u` takes a name or a uid, but the
// smolmachines backend switches users with `runuser -u`, which only takes a
// name (`runuser -u 0` fails: "user 0 does not exist").
export const GUEST_ROOT = "root";
