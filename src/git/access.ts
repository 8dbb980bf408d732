import { homedir } from "node:os";
import { join } from "node:path";
import { UserError } from "../errors.ts";

// How the gate (and its pre-receive hook) reach a real upstream with
// credentials that stay on the host. Pure: builds environment variables for
// the git child; nothing here touches the disk or the network.
//
// ssh: a pinned host key from the manifest, no trust on first use. The key
// is written to a known_hosts file under an alias (HostKeyAlias), so the
// entry does not depend on how the URL spells host and port, and the
// system's and user's known_hosts add no trust.
// https: a token from a host variable (token_ref). It reaches git through a
// credential helper that reads it from the child's environment: never on
// argv, never in a file, and git's traces do not print helper output.

export type Transport = "ssh" | "http" | "https" | "file";

export const HOST_KEY_ALIAS = "claude-bottle-upstream";
export const TOKEN_ENV = "CLAUDE_BOTTLE_GIT_TOKEN";

export function transportOf(url: string): Transport {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (m) {
    const scheme = m[1]!.toLowerCase();
    if (scheme === "ssh" || scheme === "git+ssh" || scheme === "ssh+git") return "ssh";
    if (scheme === "https") return "https";
    if (scheme === "http") return "http";
    if (scheme === "file") return "file";
    throw new UserError(`git upstream URL scheme '${scheme}' is not supported; use ssh://, https:// or a local path`);
  }
  if (url.startsWith("/")) return "file";
  // scp-like syntax: [user@]host:path (a colon before any slash).
  const colon = url.indexOf(":");
  const slash = url.indexOf("/");
  if (colon > 0 && (slash < 0 || colon < slash)) return "ssh";
  throw new UserError(`git upstream URL '${url}' is neither ssh, https nor an absolute path`);
}

const KEY_TYPES = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

// "ssh-ed25519 AAAA... [comment]" (or a known_hosts line "host ssh-ed25519
// AAAA..."; several keys on separate lines) -> known_hosts text under the alias.
export function knownHostsText(hostKey: string, upstreamName: string): string {
  const lines: string[] = [];
  for (const raw of hostKey.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const f = line.split(/\s+/);
    const at = KEY_TYPES.test(f[0]!) ? 0 : KEY_TYPES.test(f[1] ?? "") ? 1 : -1;
    const blob = at >= 0 ? f[at + 1] : undefined;
    if (at < 0 || !blob || !/^[A-Za-z0-9+/]+=*$/.test(blob)) {
      throw new UserError(
        `git upstream '${upstreamName}': host_key must look like "ssh-ed25519 AAAA..." (see ssh-keyscan or ~/.ssh/known_hosts)`,
      );
    }
    lines.push(`${HOST_KEY_ALIAS} ${f[at]} ${blob}`);
  }
  if (lines.length === 0) {
    throw new UserError(`git upstream '${upstreamName}': host_key is empty; pin the server's ssh host key`);
  }
  return lines.join("\n") + "\n";
}

function shQuote(s: string): string {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

export function expandHome(p: string, home: string = homedir()): string {
  if (p === "~") return home;
  if (p.startsWith("~/")) return join(home, p.slice(2));
  return p;
}

export function sshCommand(knownHostsFile: string, identityFile: string | undefined): string {
  const args = [
    "ssh",
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${knownHostsFile}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", `HostKeyAlias=${HOST_KEY_ALIAS}`,
    "-o", "CheckHostIP=no",
    "-o", "UpdateHostKeys=no",
    "-o", "IdentitiesOnly=yes",
    // A dead upstream fails the fetch or push instead of hanging the gate.
    "-o", "ConnectTimeout=20",
    "-o", "ServerAliveInterval=15",
    "-o", "ServerAliveCountMax=4",
  ];
  if (identityFile) args.push("-i", identityFile);
  return args.map(shQuote).join(" ");
}

// What an upstream needs to be reached, minus the secret itself.
export interface UpstreamAccess {
  name: string;
  url: string;
  knownHostsFile?: string; // ssh: file holding knownHostsText(host_key)
  identityFile?: string; // ssh
  tokenRef?: string; // https: host variable with the token (its name only)
}

// Validation shared by `up` (plan time) and the gate (serve time).
export function checkAccess(a: UpstreamAccess, hostKey: string | undefined): void {
  const t = transportOf(a.url);
  if (t === "ssh" && !hostKey) {
    throw new UserError(
      `git upstream '${a.name}' uses ssh but has no host_key; pin the server key (e.g. host_key: "ssh-ed25519 AAAA...") — trust on first use is refused`,
    );
  }
  if (t !== "ssh" && (a.identityFile || hostKey)) {
    throw new UserError(`git upstream '${a.name}': identity_file and host_key only apply to ssh URLs`);
  }
  if (a.tokenRef && t !== "https" && t !== "http") {
    throw new UserError(`git upstream '${a.name}': token_ref only applies to https URLs`);
  }
}

function urlHasUser(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/@]+@/i.test(url);
}

// Environment for a git child that talks to the upstream. `token` is the
// value of the token_ref variable (or undefined): it is placed in the
// child's environment under TOKEN_ENV, read only by the credential helper.
export function accessEnv(a: UpstreamAccess, token: string | undefined): Record<string, string> {
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: "0",
    // Same for https: give up on a stalled transfer (< 1 KB/s for 60 s).
    GIT_HTTP_LOW_SPEED_LIMIT: "1000",
    GIT_HTTP_LOW_SPEED_TIME: "60",
    GIT_ASKPASS: "/bin/false",
    SSH_ASKPASS: "/bin/false",
  };
  const t = transportOf(a.url);
  if (t === "ssh") {
    if (!a.knownHostsFile) throw new UserError(`git upstream '${a.name}' uses ssh but has no pinned host key`);
    env.GIT_SSH_COMMAND = sshCommand(a.knownHostsFile, a.identityFile ? expandHome(a.identityFile) : undefined);
    // Never let git fall back to a variant guess that drops our options.
    env.GIT_SSH_VARIANT = "ssh";
  }
  if (a.tokenRef) {
    if (token === undefined || token === "") {
      throw new UserError(`git upstream '${a.name}': host variable ${a.tokenRef} (token_ref) is not set`);
    }
    env[TOKEN_ENV] = token;
    const user = urlHasUser(a.url) ? "" : "echo username=x-access-token; ";
    const helper = `!f() { test "$1" = get || exit 0; ${user}echo "password=$${TOKEN_ENV}"; }; f`;
    // An empty helper first resets any helper from the user's config, so the
    // token is the only credential offered and nothing stores it.
    Object.assign(env, configEnv([
      ["credential.helper", ""],
      ["credential.helper", helper],
      ["credential.useHttpPath", "true"],
    ]));
  }
  return env;
}

// git reads GIT_CONFIG_COUNT/KEY_n/VALUE_n as command-line-level config
// (git >= 2.31) without putting anything on argv.
export function configEnv(pairs: [string, string][]): Record<string, string> {
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(pairs.length) };
  pairs.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}
