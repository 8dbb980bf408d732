import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGitVhost, type GitVhostOptions } from "../../../src/git/vhost.ts";

// Shared plumbing for the git gate integration tests: temp dirs, a real git
// client with a hermetic config, and the vhost served standalone by
// Bun.serve on 127.0.0.1.

export function tempDir(prefix = "cb-git-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function clientEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  writeFileSync(join(home, ".gitconfig"), "[init]\n\tdefaultBranch = main\n[protocol]\n\tversion = 2\n", { flag: "a" });
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Bottle Agent",
    GIT_AUTHOR_EMAIL: "agent@bottle.invalid",
    GIT_COMMITTER_NAME: "Bottle Agent",
    GIT_COMMITTER_EMAIL: "agent@bottle.invalid",
    GIT_TERMINAL_PROMPT: "0",
    ...extra,
  };
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Always asynchronous: the vhost under test is served by this same process,
// so a synchronous spawn of a git client would deadlock it.
export async function sh(argv: string[], opts: { cwd?: string; env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const p = Bun.spawn(argv, {
    cwd: opts.cwd,
    env: opts.env,
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

export async function ok(r: Run | Promise<Run>, what: string): Promise<Run> {
  const x = await r;
  if (x.code !== 0) throw new Error(`${what} failed (${x.code}):\n${x.stdout}\n${x.stderr}`);
  return x;
}

// A bare upstream with one commit on main.
export async function makeUpstream(dir: string, env: Record<string, string>, name = "upstream.git"): Promise<string> {
  const bare = join(dir, name);
  await ok(sh(["git", "init", "-q", "--bare", "-b", "main", bare], { env }), "init upstream");
  const seed = join(dir, `seed-${name}`);
  await ok(sh(["git", "init", "-q", "-b", "main", seed], { env }), "init seed");
  writeFileSync(join(seed, "README.md"), "# project\n");
  await ok(sh(["git", "add", "."], { cwd: seed, env }), "add");
  await ok(sh(["git", "commit", "-qm", "initial"], { cwd: seed, env }), "commit");
  await ok(sh(["git", "push", "-q", bare, "main"], { cwd: seed, env }), "seed push");
  return bare;
}

export async function refs(gitDir: string, env: Record<string, string>): Promise<Record<string, string>> {
  const r = await ok(sh(["git", "for-each-ref", "--format=%(objectname) %(refname)"], { cwd: gitDir, env }), "for-each-ref");
  const out: Record<string, string> = {};
  for (const l of r.stdout.split("\n").filter(Boolean)) {
    const [oid, ref] = l.split(" ");
    out[ref!] = oid!;
  }
  return out;
}

export function serveVhost(opts: GitVhostOptions): { base: string; stop: () => void } {
  const handler = createGitVhost(opts);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Pushes stream through; allow big ones.
    maxRequestBodySize: 1024 * 1024 * 1024,
    idleTimeout: 120,
    fetch: (req) => handler(req),
  });
  return { base: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

// Key-shaped test secrets, built at run time: no key-shaped string is
// stored in the repository.
export function rand(alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}
export const awsKey = (): string => "AKIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
