import { UserError } from "../../errors.ts";
import { captureCapped, type Capping } from "../capture.ts";
import { forwardStderr } from "../stderr-tail.ts";
import type { Bottle, BottleStart, Captured, ExecOptions, RunOptions } from "../types.ts";
import { execArgv } from "./args.ts";
import { docker, dockerMessage, isNoSuchContainer, spawnDocker, type Docker } from "./cli.ts";

// A container seen through the shared Bottle interface. Secret env was set
// once at `docker run` (by name) and every exec inherits it from the
// container, so nothing secret is needed here.

// docker's own failures (not the command's): 125 = docker exec itself
// failed, 126/127 = the command could not be run. A daemon error with exit 1
// ("No such container") is told apart by its message.
function dockerFailed(code: number, stderrTail: string): boolean {
  if (code === 125) return true;
  return code === 1 && (isGone(stderrTail) || isStopped(stderrTail));
}

const isGone = (s: string) => /^Error (response from daemon|: No such container)/m.test(s) && isNoSuchContainer(s);
const isStopped = (s: string) => /^Error response from daemon: Container \S+ is not running/m.test(s);

export class DockerBottle implements Bottle {
  constructor(
    readonly slug: string,
    readonly name: string,
    private readonly d: Docker,
    // The bridge door's bridge container and volume, when it has them.
    private readonly door?: { bridge: string; volume: string },
    // Set by the launch that started it (Bottle.started).
    readonly started?: BottleStart,
  ) {}

  // Passthrough: the terminal (-t), stdin (-i) and the exit code.
  async exec(argv: string[], opts: ExecOptions = {}): Promise<number> {
    const interactive = Boolean(opts.stdin || opts.tty);
    const args = execArgv({ name: this.name, argv, interactive, tty: opts.tty, user: opts.user, workdir: opts.workdir, env: opts.env });
    const p = spawnDocker(this.d, args, { stdin: interactive ? "inherit" : "ignore", stdout: "inherit", stderr: "pipe" });
    // stderr is forwarded as it comes and its tail kept, to tell docker's
    // own errors from the command's.
    const [code, tail] = await Promise.all([p.exited, forwardStderr(p.stderr as ReadableStream<Uint8Array>)]);
    if (dockerFailed(code, tail)) throw this.execError(tail, code);
    return code;
  }

  async run(argv: string[], opts: RunOptions = {}): Promise<Captured> {
    const args = execArgv({ name: this.name, argv, interactive: opts.input !== undefined, user: opts.user, workdir: opts.workdir, env: opts.env });
    const cap = { maxStdout: opts.maxStdout };
    const c = opts.input instanceof ReadableStream ? await this.streamed(args, opts.input, cap) : await docker(this.d, args, { input: opts.input, cap });
    if (dockerFailed(c.code, c.stderr)) throw this.execError(c.stderr, c.code);
    return c;
  }

  // A stream becomes docker's stdin as it is: Bun pipes it chunk by chunk,
  // so a large input (a workspace tar) is never held in memory.
  private async streamed(args: string[], input: ReadableStream<Uint8Array>, cap: Capping): Promise<Captured> {
    let p: Bun.Subprocess<ReadableStream<Uint8Array>, "pipe", "pipe">;
    try {
      p = Bun.spawn([this.d.bin, ...args], { env: this.d.env() as Record<string, string>, stdin: input, stdout: "pipe", stderr: "pipe" });
    } catch {
      throw new UserError(`could not run ${this.d.bin}; install Docker (see 'claude-bottle doctor') or use --backend smolmachines`);
    }
    return captureCapped(p, "docker exec", cap);
  }

  // The bottle is gone or stopped: say so in the user's terms (exec and
  // attach reach it without asking the engine first); else docker's words.
  private execError(stderr: string, code: number): UserError {
    if (isGone(stderr) || isStopped(stderr)) return new UserError(`bottle ${this.slug} is not running; 'claude-bottle ls' shows its status`);
    return new UserError(`docker exec in ${this.name} failed: ${dockerMessage(stderr, code)}`);
  }

  async stop(): Promise<void> {
    const c = await docker(this.d, ["stop", "-t", "5", this.name]);
    if (c.code !== 0 && !isNoSuchContainer(c.stderr)) throw new UserError(`docker could not stop ${this.name}: ${dockerMessage(c.stderr, c.code)}`);
  }

  // Behind the bridge door its bridge and their volume go with it: the
  // containers in one call, then the volume (not while they mount it).
  async remove(): Promise<void> {
    await removeContainers(this.d, this.door ? [this.name, this.door.bridge] : [this.name]);
    if (this.door) await removeVolume(this.d, this.door.volume);
  }
}

// Idempotent: a container that is gone (or never got created) is removed.
export async function removeContainer(d: Docker, name: string): Promise<void> {
  await removeContainers(d, [name]);
}

export async function removeContainers(d: Docker, names: string[]): Promise<void> {
  const c = await docker(d, ["rm", "-f", "-v", ...names]);
  if (c.code === 0) return;
  // One line per name that failed: gone already, or "removal already in
  // progress" (another `down` is doing it), is fine; anything else is not.
  const bad = c.stderr
    .split("\n")
    .filter((l) => /^Error/.test(l.trim()))
    .filter((l) => !isNoSuchContainer(l) && !/already in progress/i.test(l));
  if (bad.length === 0 && /^Error/m.test(c.stderr)) return;
  throw new UserError(`docker could not remove ${names.join(", ")}: ${dockerMessage(bad.join("\n") || c.stderr, c.code)}`);
}

export async function removeVolume(d: Docker, name: string): Promise<void> {
  const c = await docker(d, ["volume", "rm", "-f", name]);
  if (c.code === 0 || /no such volume/i.test(c.stderr)) return;
  throw new UserError(`docker could not remove the volume ${name}: ${dockerMessage(c.stderr, c.code)}`);
}
