import { statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { UserError } from "../../errors.ts";
import type { Bottle, ExecOptions } from "../types.ts";
import { execArgv } from "./args.ts";
import { docker, dockerMessage, isNoSuchContainer, spawnDocker, type Captured, type Docker } from "./cli.ts";

// A container seen through the shared Bottle interface. Secret env was set
// once at `docker run` (by name) and every exec inherits it from the
// container, so nothing secret is needed here.

// docker's own failures (not the command's): 125 = docker exec itself
// failed, 126/127 = the command could not be run. A daemon error with exit 1
// ("No such container") is told apart by its message.
function dockerFailed(code: number, stderrTail: string): boolean {
  if (code === 125) return true;
  return /^Error (response from daemon|: No such container)/m.test(stderrTail) && isNoSuchContainer(stderrTail);
}

export class DockerBottle implements Bottle {
  constructor(
    readonly slug: string,
    readonly name: string,
    private readonly d: Docker,
  ) {}

  // Passthrough: the terminal (-t), stdin (-i) and the exit code.
  async exec(argv: string[], opts: ExecOptions = {}): Promise<number> {
    const interactive = Boolean(opts.stdin || opts.tty);
    const args = execArgv({ name: this.name, argv, interactive, tty: opts.tty, user: opts.user, workdir: opts.workdir, env: opts.env });
    const p = spawnDocker(this.d, args, { stdin: interactive ? "inherit" : "ignore", stdout: "inherit", stderr: "pipe" });
    // stderr is forwarded as it comes and its tail kept, to tell docker's
    // own errors from the command's.
    let tail = "";
    const dec = new TextDecoder();
    const reader = (p.stderr as ReadableStream<Uint8Array>).getReader();
    const pump = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        process.stderr.write(value);
        tail = (tail + dec.decode(value, { stream: true })).slice(-4096);
      }
    })();
    const [code] = await Promise.all([p.exited, pump]);
    if (dockerFailed(code, tail)) throw new UserError(`docker exec in ${this.name} failed: ${dockerMessage(tail, code)}`);
    return code;
  }

  async run(argv: string[], opts: ExecOptions & { input?: string | Uint8Array } = {}): Promise<Captured> {
    const args = execArgv({ name: this.name, argv, interactive: opts.input !== undefined, user: opts.user, workdir: opts.workdir, env: opts.env });
    const c = await docker(this.d, args, { input: opts.input });
    if (dockerFailed(c.code, c.stderr)) throw new UserError(`docker exec in ${this.name} failed: ${dockerMessage(c.stderr, c.code)}`);
    return c;
  }

  // A tar stream into `tar -x` running as the bottle's user: the files come
  // out owned by that user with their modes kept, and no capability (chown)
  // is needed. Works for files and directories.
  async copyIn(hostPath: string, guestPath: string, opts: { user?: string } = {}): Promise<void> {
    let isDir: boolean;
    try {
      isDir = statSync(hostPath).isDirectory();
    } catch {
      throw new UserError(`cannot copy ${hostPath} into the bottle: it does not exist`);
    }
    const tarArgv = isDir ? ["tar", "-C", hostPath, "-cf", "-", "."] : ["tar", "-C", dirname(hostPath), "-cf", "-", basename(hostPath)];
    const script = isDir
      ? 'mkdir -p "$1" && tar -xf - -C "$1"'
      : 'd=$(mktemp -d) && tar -xf - -C "$d" && mkdir -p "$(dirname "$1")" && mv "$d/$2" "$1" && rmdir "$d"';
    await this.tarInto(tarArgv, ["sh", "-c", script, "sh", guestPath, basename(hostPath)], opts.user, `copy ${hostPath} to ${guestPath}`);
  }

  // Streams a host `tar -c` straight into a command in the bottle (no copy
  // of the whole tree in memory).
  async tarInto(hostTar: string[], guestArgv: string[], user: string | undefined, what: string, hostStdin?: string): Promise<void> {
    const tar = Bun.spawn(hostTar, { stdin: hostStdin !== undefined ? new Blob([hostStdin]) : "ignore", stdout: "pipe", stderr: "pipe" });
    const args = execArgv({ name: this.name, argv: guestArgv, interactive: true, user });
    const p = Bun.spawn([this.d.bin, ...args], { env: this.d.env() as Record<string, string>, stdin: tar.stdout, stdout: "pipe", stderr: "pipe" });
    const [tarErr, tarCode, , err, code] = await Promise.all([
      new Response(tar.stderr).text(),
      tar.exited,
      new Response(p.stdout).text(),
      new Response(p.stderr).text(),
      p.exited,
    ]);
    if (tarCode !== 0) throw new UserError(`could not ${what}: host tar failed: ${tarErr.trim().split("\n").at(-1) ?? tarCode}`);
    if (code !== 0) throw new UserError(`could not ${what} in the bottle: ${dockerMessage(err, code)}`);
  }

  async stop(): Promise<void> {
    const c = await docker(this.d, ["stop", "-t", "5", this.name]);
    if (c.code !== 0 && !isNoSuchContainer(c.stderr)) throw new UserError(`docker could not stop ${this.name}: ${dockerMessage(c.stderr, c.code)}`);
  }

  async remove(): Promise<void> {
    await removeContainer(this.d, this.name);
  }
}

// Idempotent: a container that is gone (or never got created) is removed.
export async function removeContainer(d: Docker, name: string): Promise<void> {
  const c = await docker(d, ["rm", "-f", "-v", name]);
  if (c.code === 0 || isNoSuchContainer(c.stderr)) return;
  // "removal already in progress": another `down` is doing it.
  if (/already in progress/i.test(c.stderr)) return;
  throw new UserError(`docker could not remove ${name}: ${dockerMessage(c.stderr, c.code)}`);
}
