import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerCliEnv, dockerTest, runCli } from "../../helpers/docker.ts";

// Workspaces whose `.git` is a FILE pointing into another repository on the
// host: a linked worktree (`git worktree add`) and a submodule checkout. The
// bottle has no access to the pointed-to directory, so the copy must arrive
// as a repository of its own: same branch, same commit, clean status, and
// (worktree) a push to origin that lands on the host.

let home = "";
let base = "";
const slugs: string[] = [];
const ident = ["-c", "user.name=host", "-c", "user.email=host@example.com", "-c", "protocol.file.allow=always"];

function git(dir: string, ...args: string[]): string {
  const r = Bun.spawnSync(["git", "-C", dir, ...ident, ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

const cli = (cwd: string, args: string[]) => runCli(args, { cwd, env: dockerCliEnv(home, { CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(["sleep", "infinity"]) }) });

async function up(cwd: string): Promise<string> {
  const r = await cli(cwd, ["up", "gitfile", "-d", "--yes"]);
  if (r.code !== 0) throw new Error(`up -d failed (${r.code}): ${r.stderr}`);
  const slug = r.stdout.trim().split("\n").pop()!;
  slugs.push(slug);
  return slug;
}

const inBottle = async (cwd: string, slug: string, script: string) => cli(cwd, ["exec", slug, "--", "sh", "-c", `cd /workspace && ${script}`]);

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "cb-gitfile-home-"));
  base = realpathSync(mkdtempSync(join(tmpdir(), "cb-gitfile-")));
  mkdirSync(join(home, "agents"), { recursive: true });
  writeFileSync(join(home, "agents", "gitfile.md"), "---\nbottle: claude\nworkspace: copy\n---\n");
});

afterAll(async () => {
  for (const slug of slugs) await cli(base, ["down", slug]);
  for (const d of [home, base]) if (d) rmSync(d, { recursive: true, force: true });
});

dockerTest(
  "a linked worktree is copied as a repository: its branch and commit, clean status, and a push lands on the host",
  async () => {
    const main = join(base, "main");
    mkdirSync(main);
    git(main, "init", "-q", "-b", "main");
    writeFileSync(join(main, "a.txt"), "a\n");
    git(main, "add", ".");
    git(main, "commit", "-qm", "a");
    const wt = join(base, "wt");
    git(main, "worktree", "add", "-q", "-b", "topic", wt);
    writeFileSync(join(wt, "b.txt"), "b\n");
    git(wt, "add", "b.txt");
    git(wt, "commit", "-qm", "b");
    const head = git(wt, "rev-parse", "HEAD");

    const slug = await up(wt);
    const r = await inBottle(wt, slug, "test -d .git && git rev-parse --abbrev-ref HEAD && git rev-parse HEAD && git status --porcelain && cat b.txt");
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n").slice(0, 3)).toEqual(["topic", head, "b"]);
    // No pointer to the host's directories in the copy.
    expect((await inBottle(wt, slug, "grep -rl -F " + JSON.stringify(base) + " .git || true")).stdout.trim()).toBe("");

    const push = await inBottle(wt, slug, "git config user.email a@b && git config user.name a && echo c > c.txt && git add c.txt && git commit -qm c && git push -q origin topic && git rev-parse HEAD");
    expect(push.code).toBe(0);
    const pushed = push.stdout.trim().split("\n").pop()!;
    expect(git(main, "rev-parse", `refs/heads/bottle/${slug}/topic`)).toBe(pushed);
  },
  240_000,
);

dockerTest(
  "a submodule checkout is copied as a repository: its commit, clean status, no core.worktree pointing back",
  async () => {
    const lib = join(base, "lib");
    mkdirSync(lib);
    git(lib, "init", "-q", "-b", "main");
    writeFileSync(join(lib, "lib.txt"), "lib\n");
    git(lib, "add", ".");
    git(lib, "commit", "-qm", "lib");
    const sup = join(base, "super");
    mkdirSync(sup);
    git(sup, "init", "-q", "-b", "main");
    git(sup, "submodule", "add", "-q", lib, "lib");
    git(sup, "commit", "-qm", "add lib");
    const sub = join(sup, "lib");
    const head = git(sub, "rev-parse", "HEAD");

    const slug = await up(sub);
    const r = await inBottle(sub, slug, "test -d .git && git rev-parse HEAD && git status --porcelain && git config --get core.worktree; cat lib.txt");
    expect(r.stdout.split("\n").slice(0, 2)).toEqual([head, "lib"]);
    expect(r.stderr).toBe("");
  },
  240_000,
);
