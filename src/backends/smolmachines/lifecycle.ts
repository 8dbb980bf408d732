import { join } from "node:path";
import { UserError } from "../../errors.ts";
import { captureCapped, type Capping } from "../capture.ts";
import { forwardStderr } from "../stderr-tail.ts";
import type { Bottle, Captured, ExecOptions, RunInput, RunOptions } from "../types.ts";
import { deleteArgv, execArgv, lsArgv, startArgv, statusArgv, stopArgv, type SecretEnvRef } from "./cli.ts";
import { classifyExit, isNotFound } from "./errors.ts";
import { withMachineLock } from "./lock.ts";
import { relayListeningProbe } from "./relay.ts";

// Effects: spawning smolvm. Everything smolvm-specific that is not an argv
// lives in the pure modules next to this one.

export interface Runner {
  bin: string; // "smolvm" or a path
  env: () => Record<string, string>; // already scrubbed (env.ts)
}

// `cap`: the output is the bottle's (an exec), read with a bound
// (capture.ts); smolvm's own answers are read whole.
export async function smolvm(r: Runner, argv: string[], opts: { input?: RunInput; extraEnv?: Record<string, string>; cap?: Capping } = {}): Promise<Captured> {
  const input = opts.input;
  // A stream is handed to the child as its stdin and piped as it comes (a
  // workspace tar is never held in memory); a string or bytes are written.
  const stream = input instanceof ReadableStream ? input : null;
  let p: Bun.Subprocess<"pipe" | "ignore" | ReadableStream<Uint8Array>, "pipe", "pipe">;
  try {
    p = Bun.spawn([r.bin, ...argv], {
      env: { ...r.env(), ...(opts.extraEnv ?? {}) },
      stdin: stream ?? (input !== undefined ? "pipe" : "ignore"),
      stdout: "pipe",
      stderr: "pipe",
    });
  } catch {
    throw new UserError(`could not run ${r.bin}; install smolvm (see \`claude-bottle doctor\`) or use --backend docker`);
  }
  if (input !== undefined && !stream && p.stdin) {
    const sink = p.stdin as import("bun").FileSink;
    sink.write(input as string | Uint8Array);
    await sink.end();
  }
  if (opts.cap) return captureCapped(p, "smolvm exec", opts.cap);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

// Run a smolvm management command that must succeed; smolvm's own message
// (never holding a secret: we put none on its argv or in its Smolfile) is
// the error.
export async function smolvmOk(r: Runner, argv: string[], what: string): Promise<Captured> {
  const c = await smolvm(r, argv);
  if (c.code !== 0) {
    const o = classifyExit(c.code, c.stderr);
    const msg = o.kind === "smolvm-error" || o.kind === "usage-error" ? o.message : (c.stderr.trim().split("\n").pop() ?? `exit ${c.code}`);
    throw new UserError(`smolvm could not ${what}: ${msg}`);
  }
  return c;
}

// The object `machine status --json` / `machine ls --json` print
// (src/cli/vm_common.rs::machine_status_json); only the fields we read.
export interface MachineJson {
  name: string;
  state: string; // created|running|stopped|failed|unreachable|frozen (src/config.rs::RecordState)
  labels?: Record<string, string> | null;
  pid?: number | null;
}

export async function machineStatus(r: Runner, name: string): Promise<MachineJson | null> {
  const c = await smolvm(r, statusArgv(name));
  if (c.code !== 0) {
    const o = classifyExit(c.code, c.stderr);
    if (o.kind === "smolvm-error" && isNotFound(o.message)) return null;
    throw new UserError(`smolvm could not read the status of ${name}: ${o.kind === "smolvm-error" ? o.message : c.stderr.trim()}`);
  }
  return JSON.parse(c.stdout) as MachineJson;
}

export async function listMachines(r: Runner): Promise<MachineJson[]> {
  const c = await smolvmOk(r, lsArgv(), "list machines");
  const v = JSON.parse(c.stdout) as unknown;
  if (!Array.isArray(v)) throw new UserError("smolvm machine ls --json did not print a JSON array");
  return v as MachineJson[];
}

// Poll with exponential backoff until `check` says done; no fixed sleeps.
export async function backoffUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  for (;;) {
    if (await check()) return;
    if (Date.now() + delay > deadline) throw new UserError(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}`);
    await Bun.sleep(delay);
    delay = Math.min(delay * 2, 1000);
  }
}

export async function startAndWait(r: Runner, name: string, lockFile: string, timeoutMs: number): Promise<void> {
  await smolvmOk(r, startArgv(name), `start ${name}`);
  await backoffUntil(async () => (await machineStatus(r, name))?.state === "running", timeoutMs, `${name} to run`);
  // The relay is the machine's workload. It answering from an exec proves
  // the exec and the workload share 127.0.0.1 (see relay.ts).
  await backoffUntil(
    async () => (await withMachineLock(lockFile, () => smolvm(r, execArgv({ name, argv: relayListeningProbe() })))).code === 0,
    timeoutMs,
    `the gate relay in ${name} to listen on 127.0.0.1`,
  );
}

export async function removeMachine(r: Runner, name: string): Promise<void> {
  const c = await smolvm(r, deleteArgv(name));
  if (c.code === 0) return;
  const o = classifyExit(c.code, c.stderr);
  if (o.kind === "smolvm-error" && isNotFound(o.message)) return;
  throw new UserError(`smolvm could not delete ${name}: ${o.kind === "smolvm-error" ? o.message : c.stderr.trim()}`);
}

export interface BottleConfig {
  slug: string;
  name: string;
  runner: Runner;
  lockFile: string;
  // Secret values captured at launch, sent to smolvm's environment under
  // their own names and referenced with --secret-env NAME=NAME. Empty for a
  // bottle found by attach(): its secrets stay with the launching process.
  secrets: Map<string, string>;
}

// A running machine seen through the shared Bottle interface.
export class SmolmachinesBottle implements Bottle {
  readonly slug: string;
  constructor(private readonly c: BottleConfig) {
    this.slug = c.slug;
  }

  private secretRefs(): { refs: SecretEnvRef[]; env: Record<string, string> } {
    const refs: SecretEnvRef[] = [];
    const env: Record<string, string> = {};
    for (const [k, v] of [...this.c.secrets.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      refs.push({ guest: k, host: k });
      env[k] = v;
    }
    return { refs, env };
  }

  private argv(argv: string[], opts: ExecOptions, interactive: boolean): { args: string[]; env: Record<string, string> } {
    const { refs, env } = this.secretRefs();
    // smolvm exec has no --user: run the command through runuser (util-linux).
    const command = opts.user ? ["runuser", "-u", opts.user, "--", ...argv] : argv;
    const args = execArgv({ name: this.c.name, argv: command, interactive, tty: opts.tty, workdir: opts.workdir, env: opts.env, secretEnv: refs });
    return { args, env };
  }

  // The agent's session: terminal passed through, exit code passed back.
  async exec(argv: string[], opts: ExecOptions = {}): Promise<number> {
    const interactive = Boolean(opts.stdin || opts.tty);
    const { args, env } = this.argv(argv, opts, interactive);
    const spawn = () =>
      Bun.spawn([this.c.runner.bin, ...args], {
        env: { ...this.c.runner.env(), ...env },
        stdin: interactive ? "inherit" : "ignore",
        stdout: "inherit",
        // Captured and forwarded: with -t the guest's stderr arrives through
        // the pty on stdout, so this pipe carries smolvm's own messages.
        stderr: "pipe",
      });
    let p: ReturnType<typeof spawn>;
    let tail = "";
    let code: number;
    if (interactive) {
      // A long session must not hold the lock. It joins the running main
      // container (the relay) via `crun exec`, which writes no bundle; the
      // probe under the lock makes sure that container is there first.
      await withMachineLock(this.c.lockFile, async () => {
        const probe = await smolvm(this.c.runner, execArgv({ name: this.c.name, argv: relayListeningProbe() }));
        if (probe.code !== 0) this.fail(probe, "reach the bottle");
      });
      p = spawn();
      [tail, code] = await Promise.all([forwardStderr(p.stderr), p.exited]);
    } else {
      code = await withMachineLock(this.c.lockFile, async () => {
        p = spawn();
        const [t, c] = await Promise.all([forwardStderr(p.stderr), p.exited]);
        tail = t;
        return c;
      });
    }
    const o = classifyExit(code, tail);
    if (o.kind === "smolvm-error" || o.kind === "usage-error") throw new UserError(`smolvm exec in ${this.c.name} failed: ${o.message}`);
    return code;
  }

  async run(argv: string[], opts: RunOptions = {}): Promise<Captured> {
    const interactive = opts.input !== undefined;
    const { args, env } = this.argv(argv, { ...opts, tty: false }, interactive);
    const c = await withMachineLock(this.c.lockFile, () => smolvm(this.c.runner, args, { input: opts.input, extraEnv: env, cap: { maxStdout: opts.maxStdout } }));
    const o = classifyExit(c.code, c.stderr);
    if (o.kind === "smolvm-error" || o.kind === "usage-error") this.fail(c, `run ${argv[0]}`);
    return c;
  }

  async stop(): Promise<void> {
    const c = await smolvm(this.c.runner, stopArgv(this.c.name));
    if (c.code === 0) return;
    const o = classifyExit(c.code, c.stderr);
    if (o.kind === "smolvm-error" && isNotFound(o.message)) return;
    this.fail(c, "stop");
  }

  async remove(): Promise<void> {
    await removeMachine(this.c.runner, this.c.name);
  }

  private fail(c: Captured, what: string): never {
    const o = classifyExit(c.code, c.stderr);
    const msg = o.kind === "smolvm-error" || o.kind === "usage-error" ? o.message : `exit ${c.code}`;
    throw new UserError(`smolvm could not ${what} in ${this.c.name}: ${msg}`);
  }
}

export function lockFileFor(stateDir: string): string {
  // Not under sock/: nothing but gate.sock may live there.
  return join(stateDir, "smolvm", "exec.lock");
}
