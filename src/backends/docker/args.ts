import { UserError } from "../../errors.ts";
import type { Resources } from "../../manifest/schema.ts";
import type { WorkspaceMode } from "../../manifest/spec.ts";
import { DEFAULT_PIDS_LIMIT, GUEST_HOME, GUEST_SOCK_DIR, GUEST_USER, GUEST_WORKSPACE, LABEL_DOOR, LABEL_OWNER, LABEL_SLUG } from "./constants.ts";
import { bridgeRelayCommand, relayCommand, seededRelayCommand } from "./dockerfile.ts";
import { GUEST_CA_FILE, GUEST_HOME_TAR, SYSTEM_CA_BUNDLE } from "../guest.ts";

// Pure argv builders for the docker CLI. Secret env is only ever referenced
// by NAME (`-e NAME`): docker then takes the value from its own environment,
// so no value appears on any argv (visible in `ps`) or in a file.

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface EnvArgs {
  plain: Record<string, string>; // non-secret: `-e NAME=value`
  secretNames: string[]; // `-e NAME`, value from the docker CLI's environment
}

// A name in both sets is treated as secret: the safe side.
export function envArgs(env: EnvArgs): string[] {
  const secret = new Set(env.secretNames);
  const out: string[] = [];
  for (const name of Object.keys(env.plain).sort()) {
    if (!ENV_NAME.test(name)) throw new Error(`invalid env name: ${JSON.stringify(name)}`);
    if (secret.has(name)) continue;
    out.push("-e", `${name}=${env.plain[name]}`);
  }
  for (const name of [...secret].sort()) {
    if (!ENV_NAME.test(name)) throw new Error(`invalid env name: ${JSON.stringify(name)}`);
    out.push("-e", name);
  }
  return out;
}

// --mount takes CSV: a path with a comma or quote must be a quoted field.
const csvField = (k: string, v: string) => {
  const kv = `${k}=${v}`;
  return /[",\n]/.test(kv) ? `"${kv.replaceAll('"', '""')}"` : kv;
};

export function mountArg(source: string, target: string, readonly: boolean): string {
  return ["type=bind", csvField("source", source), csvField("target", target), ...(readonly ? ["readonly"] : [])].join(",");
}

export function volumeMountArg(volume: string, target: string, readonly: boolean): string {
  return ["type=volume", csvField("source", volume), csvField("target", target), ...(readonly ? ["readonly"] : [])].join(",");
}

export interface WorkspaceMounts {
  mode: WorkspaceMode;
  path: string | null;
  // For mode "mount": which of .git/hooks and .git/config exist on the host
  // (a read-only bind needs an existing source).
  gitHooks?: boolean;
  gitConfig?: boolean;
  // For mode "mount": the host owner of the work tree (uid:gid). The agent
  // runs as that owner so it can write the mounted tree whatever the host
  // uid is; `node` (uid 1000 in the image) would be refused by a work tree
  // that belongs to anyone else. Nothing privileged: a plain --user.
  owner?: { uid: number; gid: number };
}

// The agent's identity in the container: `node`, or the mounted work tree's
// owner. Its home is then a tmpfs owned by that uid (the image's
// /home/node belongs to 1000), and HOME names it (a uid with no passwd
// entry would get "/").
export function agentUserArgs(ws: WorkspaceMounts): string[] {
  if (ws.mode !== "mount" || !ws.owner) return ["--user", GUEST_USER];
  const { uid, gid } = ws.owner;
  return ["--user", `${uid}:${gid}`, "--tmpfs", `${GUEST_HOME}:uid=${uid},gid=${gid},mode=0700,exec`, "--env", `HOME=${GUEST_HOME}`];
}

export interface RunInput {
  name: string;
  slug: string;
  image: string;
  sockDir: string; // host <state>/sock
  // The bridge door (bridge.ts): the docker volume the bridge container
  // serves the gate socket in, mounted where sockDir would be. Then nothing
  // of the host's filesystem is mounted (the engine may not see it) but a
  // `mount` workspace, which needs the engine's file sharing.
  doorVolume?: string;
  env: EnvArgs;
  resources: Resources;
  workspace: WorkspaceMounts;
  // Host files mounted read-only over the system CA bundle and the CA file
  // (trust.ts): the bottle trusts its CA from the start.
  trust?: { bundle: string; ca: string };
  // The agent's home as a host tar, mounted read-only and unpacked by the
  // bottle's first command (seededRelayCommand). Not behind the bridge door:
  // the engine may not see host files there.
  homeTar?: string;
}

export function workspaceMountArgs(ws: WorkspaceMounts): string[] {
  if (ws.mode !== "mount" || !ws.path) return [];
  const out = ["--mount", mountArg(ws.path, GUEST_WORKSPACE, false)];
  // The agent may commit, but must not plant a hook that the user's host git
  // runs later, nor rewrite the repo config (core.fsmonitor, hooksPath,
  // remotes): both are read-only on top of the writable work tree. Not
  // enough on its own: the rest of .git stays writable (a .git/commondir
  // moves where git reads its config; the index can record a repository
  // of the bottle's as a submodule): see the README's known limits.
  if (ws.gitHooks) out.push("--mount", mountArg(`${ws.path}/.git/hooks`, `${GUEST_WORKSPACE}/.git/hooks`, true));
  if (ws.gitConfig) out.push("--mount", mountArg(`${ws.path}/.git/config`, `${GUEST_WORKSPACE}/.git/config`, true));
  return out;
}

// Does the bottle start with its home (RunInput.homeTar)?
export function seeded(input: RunInput): boolean {
  return input.homeTar !== undefined && !input.doorVolume;
}

export function runArgv(input: RunInput): string[] {
  const r = input.resources;
  return [
    "run",
    "-d",
    "--name",
    input.name,
    "--label",
    `${LABEL_OWNER}=1`,
    "--label",
    `${LABEL_SLUG}=${input.slug}`,
    // Sealed: no interface but lo. Not an --internal network: those still
    // reach host services on the bridge addresses (DESIGN.md, Backends).
    "--network",
    "none",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--pids-limit",
    String(DEFAULT_PIDS_LIMIT),
    ...(r.memory !== undefined ? ["--memory", `${r.memory}m`] : []),
    ...(r.cpus !== undefined ? ["--cpus", String(r.cpus)] : []),
    // docker-init as PID 1 reaps the orphans of exec sessions and forwards
    // signals to the relay.
    "--init",
    ...agentUserArgs(input.workspace),
    "--workdir",
    GUEST_WORKSPACE,
    // The socket DIRECTORY, not the socket: a restarted gate's new socket
    // appears inside. Read-only: the bottle cannot plant anything next to it
    // (connecting to a socket on a read-only mount still works).
    ...(input.doorVolume
      ? ["--label", `${LABEL_DOOR}=bridge`, "--mount", volumeMountArg(input.doorVolume, GUEST_SOCK_DIR, true)]
      : ["--mount", mountArg(input.sockDir, GUEST_SOCK_DIR, true)]),
    ...(input.trust && !input.doorVolume ? ["--mount", mountArg(input.trust.bundle, SYSTEM_CA_BUNDLE, true), "--mount", mountArg(input.trust.ca, GUEST_CA_FILE, true)] : []),
    ...(seeded(input) ? ["--mount", mountArg(input.homeTar!, GUEST_HOME_TAR, true)] : []),
    ...workspaceMountArgs(input.workspace),
    ...envArgs(input.env),
    input.image,
    ...(input.doorVolume ? bridgeRelayCommand() : seeded(input) ? seededRelayCommand() : relayCommand()),
  ];
}

export interface ExecInput {
  name: string;
  argv: string[];
  interactive?: boolean; // -i
  tty?: boolean; // -t
  user?: string;
  workdir?: string;
  env?: Record<string, string>; // non-secret only
}

export function execArgv(input: ExecInput): string[] {
  if (input.argv.length === 0) throw new Error("exec needs a command");
  return [
    "exec",
    ...(input.interactive ? ["-i"] : []),
    ...(input.tty ? ["-t"] : []),
    // The agent (GUEST_USER) is whoever the container runs as (agentUserArgs):
    // no -u, so a mount-mode bottle's agent is the work tree's owner.
    ...(input.user && input.user !== GUEST_USER ? ["-u", input.user] : []),
    ...(input.workdir ? ["-w", input.workdir] : []),
    ...envArgs({ plain: input.env ?? {}, secretNames: [] }),
    input.name,
    ...input.argv,
  ];
}

// Defence in depth: whatever a caller put in `plain`, no secret VALUE may
// reach an argv. Throws naming the variable, never the value.
export function assertNoSecretValues(argv: string[], secrets: Record<string, string>): void {
  for (const [name, value] of Object.entries(secrets)) {
    if (value.length < 4) continue; // too short to tell apart from ordinary text
    if (argv.some((a) => a.includes(value))) throw new UserError(`the value of secret ${name} would appear on the docker command line; refusing`);
  }
}
