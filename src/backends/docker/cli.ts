import { UserError } from "../../errors.ts";
import { captureCapped, type Capping } from "../capture.ts";
import type { Captured } from "../types.ts";

// The edge: spawning the docker CLI. Every docker call goes through here so
// that stderr is captured and turned into one-line UserErrors, and so that
// the child's environment is chosen in one place (secret values reach the
// CLI only through its environment, referenced on argv by name).

export interface Docker {
  bin: string; // "docker" or a path
  env: () => Record<string, string | undefined>; // read at each spawn
}

export function spawnDocker(
  d: Docker,
  argv: string[],
  stdio: { stdin: "pipe" | "ignore" | "inherit"; stdout: "pipe" | "inherit"; stderr: "pipe" | "inherit" },
) {
  try {
    return Bun.spawn([d.bin, ...argv], { env: d.env() as Record<string, string>, ...stdio });
  } catch {
    throw new UserError(`could not run ${d.bin}; install Docker (see 'claude-bottle doctor') or use --backend smolmachines`);
  }
}

// `cap`: the output is the bottle's (an exec), read with a bound
// (capture.ts); docker's own answers are read whole.
export async function docker(d: Docker, argv: string[], opts: { input?: string | Uint8Array; cap?: Capping } = {}): Promise<Captured> {
  const p = spawnDocker(d, argv, { stdin: opts.input !== undefined ? "pipe" : "ignore", stdout: "pipe", stderr: "pipe" });
  if (opts.input !== undefined) {
    const sink = p.stdin as import("bun").FileSink;
    // A child that exits early (bad container) closes the pipe; the exit code
    // and stderr say why, so a write error here is not the story.
    try {
      sink.write(opts.input);
      await sink.end();
    } catch {
      // reported through the exit code below
    }
  }
  if (opts.cap) return captureCapped(p as Parameters<typeof captureCapped>[0], `docker ${argv[0]}`, opts.cap);
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout as ReadableStream).text(),
    new Response(p.stderr as ReadableStream).text(),
    p.exited,
  ]);
  return { code, stdout, stderr };
}

// docker's own message, on one line: the last meaningful line of stderr,
// without the "Error response from daemon:" prefix.
export function dockerMessage(stderr: string, code: number): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^(WARNING|See 'docker|Run 'docker .* --help')/i.test(l));
  const last = lines.at(-1);
  if (!last) return `exit ${code}`;
  return last.replace(/^Error( response from daemon)?:\s*/i, "").slice(0, 400);
}

// `docker run --name X` when X exists: "Conflict. The container name "/X"
// is already in use by container ...".
export function isNameConflict(stderr: string): boolean {
  return /Conflict\. The container name .* is already in use/i.test(stderr);
}

export function isNoSuchContainer(stderr: string): boolean {
  return /no such (container|object)/i.test(stderr);
}

// Run a management command that must succeed.
export async function dockerOk(d: Docker, argv: string[], what: string, opts: { input?: string | Uint8Array } = {}): Promise<Captured> {
  const c = await docker(d, argv, opts);
  if (c.code !== 0) throw new UserError(`docker could not ${what}: ${dockerMessage(c.stderr, c.code)}`);
  return c;
}
