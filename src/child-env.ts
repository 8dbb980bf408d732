// The environment of our own children that hold or handle secrets: the
// gate, its supervisor, and through the gate the git children and the
// pre-receive hook. Built from an allowlist, never inherited whole, because
// the launcher's environment is the user's shell: a repository's .envrc or
// a shell profile can set anything there, and the Bun runtime and git read
// many variables that move where bytes go or whom they trust. Tried on Bun
// 1.4.4: NODE_EXTRA_CA_CERTS, SSL_CERT_FILE and SSL_CERT_DIR add trusted CAs
// to node:tls's default store; BUN_OPTIONS="--preload x.js" runs code in a
// compiled executable; BUN_BE_BUN=1 turns `claude-bottle gate` into
// `bun gate`, i.e. a package.json script of the working directory reading
// the secrets on stdin. git honours HTTPS_PROXY, GIT_SSL_CAINFO,
// GIT_SSL_NO_VERIFY, GIT_CONFIG_* and more. None of those pass.
//
// What does pass is what finding programs and files needs, plus ssh-agent
// (it may hold a pinned identity_file's key). Proxies and CA settings for
// git belong in ~/.gitconfig (http.proxy, http.sslCAInfo), a file in the
// user's home, not in the environment.
const PASS = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SSH_AUTH_SOCK"];

export function childEnv(from: Record<string, string | undefined>, extra: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of [...PASS, ...extra]) {
    const v = from[k];
    if (v !== undefined) env[k] = v;
  }
  if (!env.PATH) env.PATH = "/usr/local/bin:/usr/bin:/bin";
  return env;
}

// The gate and its supervisor also read these of ours: where the home is
// when the state dir is not under it, and how long a supervised call waits.
export const GATE_OWN_ENV = ["CLAUDE_BOTTLE_HOME", "CLAUDE_BOTTLE_SUPERVISE_TIMEOUT"] as const;

export function gateEnv(from: Record<string, string | undefined>): Record<string, string> {
  return childEnv(from, GATE_OWN_ENV);
}

// The detached supervisor restarts a bridge door's bridge container
// (backends/docker/bridge.ts) with the docker CLI, on the engine `up` used:
// these name it. They choose the engine that receives the door's token,
// the same engine `up` already gave the bottle's own secret env; nothing
// the gate holds goes through docker. The gate never gets them.
export const DOCKER_CLIENT_ENV = ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"] as const;

export function supervisorEnv(from: Record<string, string | undefined>): Record<string, string> {
  return childEnv(from, [...GATE_OWN_ENV, ...DOCKER_CLIENT_ENV]);
}
