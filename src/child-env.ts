import { existsSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";

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
// What does pass is what finding programs and files needs (PATH only as far
// as the repository being bottled does not write it: trustedPath), plus ssh-agent
// (it may hold a pinned identity_file's key). Proxies and CA settings for
// git belong in ~/.gitconfig (http.proxy, http.sslCAInfo), a file in the
// user's home, not in the environment.
const PASS = ["HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SSH_AUTH_SOCK"];

export function childEnv(from: Record<string, string | undefined>, extra: readonly string[] = [], cwd: string = process.cwd()): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of [...PASS, ...extra]) {
    const v = from[k];
    if (v !== undefined) env[k] = v;
  }
  env.PATH = trustedPath(from.PATH, cwd) || "/usr/local/bin:/usr/bin:/bin";
  // HOME names the git config our git children read: not one the bottled
  // repository holds (the account's home then).
  if (env.HOME !== undefined && trustedPath(env.HOME, cwd) === "") {
    const home = accountHome();
    if (home === null) delete env.HOME;
    else env.HOME = home;
  }
  return env;
}

// PATH chooses the programs our children run (git, gitleaks, ssh), and the
// gate's git children get the upstream's token. A repository that puts its
// own folder on PATH (direnv's `PATH_add bin`: an ordinary .envrc line)
// would choose the `git` that receives it. So only absolute entries pass,
// and none inside the current folder or its git repository (judged by real
// paths, like the home: state/home.ts).
export function trustedPath(path: string | undefined, cwd: string): string {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const inside = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);
  const here = real(cwd);
  const fenced = [here, repoRoot(here)].filter((d): d is string => d !== null);
  // The account's home (someone running from ~, or keeping dotfiles in a
  // repository at ~) is not fenced: ~/.local/bin is theirs. Asked only when
  // an entry is inside a fenced folder (it costs a process).
  const fencedOut = (e: string) => {
    const r = real(e);
    const by = fenced.filter((d) => inside(r, d));
    if (by.length === 0) return false;
    const home = accountHome();
    return home === null || by.some((d) => !inside(real(home), d));
  };
  return (path ?? "")
    .split(":")
    .filter((e) => isAbsolute(e) && !fencedOut(e))
    .join(":");
}

// The account's home directory in the user database, which no environment
// variable changes (Bun's os.homedir() and userInfo() read HOME): asked of
// the system by uid, with absolute paths (PATH is the environment's too).
// null when it cannot be told.
let account: string | null | undefined;
export function accountHome(): string | null {
  if (account !== undefined) return account;
  const uid = process.getuid?.();
  if (uid === undefined) return (account = null);
  const run = (argv: string[]) => {
    try {
      const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
      return r.exitCode === 0 ? r.stdout.toString() : null;
    } catch {
      return null;
    }
  };
  let recorded: string | null | undefined;
  if (process.platform === "darwin") {
    const name = run(["/usr/bin/dscl", ".", "-search", "/Users", "UniqueID", String(uid)])?.split(/\s/)[0];
    recorded = name ? run(["/usr/bin/dscl", ".", "-read", `/Users/${name}`, "NFSHomeDirectory"])?.match(/NFSHomeDirectory:\s*(\S.*)$/m)?.[1] : null;
  } else {
    const getent = ["/usr/bin/getent", "/bin/getent"].find((p) => statSync(p, { throwIfNoEntry: false })?.isFile());
    recorded = getent ? run([getent, "passwd", String(uid)])?.trim().split(":")[5] : null;
  }
  return (account = recorded ? recorded : null);
}

function repoRoot(dir: string): string | null {
  for (let cur = dir, i = 0; i < 256; i++) {
    if (existsSync(join(cur, ".git"))) return cur;
    const up = dirname(cur);
    if (up === cur) return null;
    cur = up;
  }
  return null;
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
