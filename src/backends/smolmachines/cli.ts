// Pure argv builders for the smolvm CLI. Every flag here exists in
// smol-machines/smolvm src/cli/machine.rs (read at v1.9.2-3-ga5df5001);
// the struct each builder targets is named next to it. Nothing here spawns.
//
// Secret values never appear in these arrays: secrets travel as
// `--secret-env GUEST=HOST` references that smolvm resolves from its own
// environment at exec time (src/secrets.rs::resolve_secret_ref_classified
// reads std::env::var(from_env)).

export interface SecretEnvRef {
  guest: string; // variable name inside the VM
  host: string; // variable name in the smolvm process environment
}

export interface CreateArgs {
  name: string;
  smolfile: string; // absolute path of the rendered Smolfile
  image: string; // absolute path of a `docker save` archive or rootfs dir
  mountSockets: { host: string; guest: string }[];
  labels: Record<string, string>;
}

export interface ExecArgs {
  name: string;
  argv: string[];
  interactive?: boolean; // -i: forward stdin
  tty?: boolean; // -t: allocate a pty
  workdir?: string;
  env?: Record<string, string>; // non-secret only: values are on argv
  secretEnv?: SecretEnvRef[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function versionArgv(): string[] {
  // clap's #[command(version)] on `Cli` (src/main.rs) prints "smolvm X.Y.Z".
  return ["--version"];
}

// CreateCmd: -n/--name, --label K=V (repeatable), -I/--image, -s/--smolfile,
// --mount-socket HOST:GUEST (create-only). No workload after `--`: the
// Smolfile's entrypoint/cmd is the persistent workload.
export function createArgv(a: CreateArgs): string[] {
  assertMachineName(a.name);
  const out = ["machine", "create", "--name", a.name, "--smolfile", a.smolfile, "--image", a.image];
  for (const m of a.mountSockets) {
    if (m.host.includes(":")) throw new Error(`mount-socket host path must not contain ':' (${m.host})`);
    if (!m.guest.startsWith("/") || /[;|]/.test(m.guest)) {
      // parse_published_sockets rejects relative guest paths and ';' '|'.
      throw new Error(`mount-socket guest path must be absolute without ';' or '|' (${m.guest})`);
    }
    out.push("--mount-socket", `${m.host}:${m.guest}`);
  }
  for (const key of Object.keys(a.labels).sort()) {
    // parse_labels splits on the first '=', so the key may not hold one.
    if (key.length === 0 || key.includes("=")) throw new Error(`invalid label key ${JSON.stringify(key)}`);
    out.push("--label", `${key}=${a.labels[key]}`);
  }
  return out;
}

// StartCmd / StopCmd: -n/--name.
export function startArgv(name: string): string[] {
  assertMachineName(name);
  return ["machine", "start", "--name", name];
}

export function stopArgv(name: string): string[] {
  assertMachineName(name);
  return ["machine", "stop", "--name", name];
}

// DeleteCmd: -n/--name, -f/--force (skips the y/N prompt that otherwise
// reads stdin); delete_vm stops a running machine first.
export function deleteArgv(name: string): string[] {
  assertMachineName(name);
  return ["machine", "delete", "--name", name, "--force"];
}

// StatusCmd: -n/--name, --json. LsCmd: --json.
export function statusArgv(name: string): string[] {
  assertMachineName(name);
  return ["machine", "status", "--name", name, "--json"];
}

export function lsArgv(): string[] {
  return ["machine", "ls", "--json"];
}

// ExecCmd: --name (long only: ExecCmd has no -n), -w, -e K=V, --secret-env
// G=H, -i, -t, then the command after `--`.
export function execArgv(a: ExecArgs): string[] {
  assertMachineName(a.name);
  if (a.argv.length === 0) throw new Error("exec needs a command");
  const out = ["machine", "exec", "--name", a.name];
  if (a.interactive) out.push("-i");
  if (a.tty) out.push("-t");
  if (a.workdir) out.push("-w", a.workdir);
  const env = a.env ?? {};
  for (const k of Object.keys(env).sort()) {
    if (!ENV_NAME.test(k)) throw new Error(`invalid environment variable name ${JSON.stringify(k)}`);
    out.push("-e", `${k}=${env[k]}`);
  }
  for (const s of a.secretEnv ?? []) {
    if (!ENV_NAME.test(s.guest) || !ENV_NAME.test(s.host)) {
      throw new Error(`invalid secret env reference ${s.guest}=${s.host}`);
    }
    out.push("--secret-env", `${s.guest}=${s.host}`);
  }
  out.push("--", ...a.argv);
  return out;
}

// src/data/mod.rs::validate_vm_name: non-empty, <= 128 bytes, starts with an
// ASCII alphanumeric, only [A-Za-z0-9_-], no trailing '-', no "--".
export function machineNameProblem(name: string): string | null {
  if (name.length === 0) return "machine name cannot be empty";
  if (name.length > 128) return `machine name too long: ${name.length} characters (max 128)`;
  if (!/^[A-Za-z0-9]/.test(name)) return "machine name must start with a letter or digit";
  if (name.endsWith("-")) return "machine name cannot end with a hyphen";
  if (name.includes("--")) return "machine name cannot contain consecutive hyphens";
  const bad = name.match(/[^A-Za-z0-9_-]/);
  if (bad) return `machine name contains invalid character: '${bad[0]}'`;
  return null;
}

export function assertMachineName(name: string): void {
  const p = machineNameProblem(name);
  if (p) throw new Error(`${p} (${JSON.stringify(name)})`);
}
