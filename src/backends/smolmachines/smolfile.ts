import { parse, stringify } from "smol-toml";
import { UserError } from "../../errors.ts";

// Render the Smolfile for a sealed bottle. Pure.
//
// The schema is crates/smolvm-smolfile/src/lib.rs::Smolfile (read at smolvm
// v1.9.2-3-ga5df5001): `#[serde(deny_unknown_fields)]` on every struct, so an
// unknown key or a wrong type fails the whole file. We emit a small subset:
//
//   entrypoint, cmd  string[]  the persistent workload (here: the relay)
//   env              string[]  "K=V"
//   workdir          string
//   cpus             int (u8)
//   memory           int MiB (u32)
//   volumes          string[]  "HOST:GUEST[:ro]" (virtiofs, directories)
//
// Never `image` (a Smolfile image is taken as-is, only CLI `--image` is
// resolved on the host: src/cli/machine.rs CreateCmd "Resolve a local image
// source"), never `net`, never `[network]`: a bottle has no NIC.
//
// smolvm trims every env entry (src/cli/smolfile.rs::build_create_params:
// `e.trim()`), and an entry without '=' is read as "copy this variable from
// the host" (src/util.rs::parse_env_spec). So a value with leading or
// trailing whitespace would silently change; we refuse it instead.

export interface SmolfileInput {
  env: Record<string, string>;
  workdir?: string;
  cpus?: number;
  memory?: number; // MiB
  volumes?: { host: string; guest: string; readOnly?: boolean }[];
  entrypoint?: string[];
  cmd?: string[];
}

// Every key this renderer may write. A test asserts the output never holds
// anything else, and that all of these exist in smolvm's schema.
export const RENDERED_KEYS = ["entrypoint", "cmd", "env", "workdir", "cpus", "memory", "volumes"] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function renderSmolfile(input: SmolfileInput): string {
  const doc: Record<string, unknown> = {};
  if (input.entrypoint && input.entrypoint.length > 0) doc.entrypoint = [...input.entrypoint];
  if (input.cmd && input.cmd.length > 0) doc.cmd = [...input.cmd];
  doc.env = renderEnv(input.env);
  if (input.workdir !== undefined) {
    if (!input.workdir.startsWith("/")) throw new UserError(`workdir must be an absolute path inside the VM (${input.workdir})`);
    doc.workdir = input.workdir;
  }
  if (input.cpus !== undefined) doc.cpus = intInRange("cpus", input.cpus, 1, 255); // u8
  if (input.memory !== undefined) doc.memory = intInRange("resources.memory", input.memory, 1, 0xffffffff); // u32 MiB
  if (input.volumes && input.volumes.length > 0) doc.volumes = input.volumes.map(renderVolume);
  return stringify(doc) + "\n";
}

export function renderEnv(env: Record<string, string>): string[] {
  return Object.keys(env)
    .sort()
    .map((name) => {
      const value = env[name] as string;
      if (!ENV_NAME.test(name)) throw new UserError(`environment variable name ${JSON.stringify(name)} is not valid; use letters, digits and _`);
      if (value.includes("\0")) throw new UserError(`environment variable ${name} contains a NUL byte; remove it`);
      if (value !== value.trim()) {
        throw new UserError(
          `environment variable ${name} starts or ends with whitespace, which smolvm would strip; trim the value or use --backend docker`,
        );
      }
      return `${name}=${value}`;
    });
}

function renderVolume(v: { host: string; guest: string; readOnly?: boolean }): string {
  // HostMount::parse splits on ':'; a colon in either path cannot be expressed.
  if (!v.host.startsWith("/") || !v.guest.startsWith("/")) throw new UserError(`volume paths must be absolute (${v.host}:${v.guest})`);
  if (v.host.includes(":") || v.guest.includes(":")) throw new UserError(`volume paths must not contain ':' (${v.host})`);
  return `${v.host}:${v.guest}${v.readOnly ? ":ro" : ""}`;
}

function intInRange(what: string, n: number, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max) throw new UserError(`${what} must be an integer between ${min} and ${max} (got ${n})`);
  return n;
}

// Defense in depth, run on every rendered file before it is written: parse
// it back and refuse anything but the rendered keys, and any network key.
export function assertSealedSmolfile(text: string): void {
  const doc = parse(text) as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (key === "net" || key === "network") throw new Error(`rendered Smolfile has a network key (${key}); refusing to create an unsealed VM`);
    if (!(RENDERED_KEYS as readonly string[]).includes(key)) throw new Error(`rendered Smolfile has an unexpected key: ${key}`);
  }
}
