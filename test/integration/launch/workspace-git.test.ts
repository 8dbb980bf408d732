import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { doorResources, dockerTest, dockerCliEnv, PUSH_FEAT_FROM_BOTTLE, testDoors, type TestDoor } from "../../helpers/docker.ts";

// The local workspace end to end (issue 5): `up -d` in a git repository
// copies the repository into the bottle (without its ignored .env), and the
// copy's origin is the host repository through the gate, so the agent's
// `git push origin feat` lands as refs/heads/bottle/<slug>/feat on the host
// and nothing else of the user's moves. The real CLI, gate and docker, once
// per door (the bridge door's copy goes in with no host mount at all).

const CLI = join(import.meta.dir, "..", "..", "..", "src", "cli.ts");
const SECRET = `planted-dotenv-${crypto.randomUUID()}`;
let home = "";
let repo = "";
const slugs: string[] = [];

function env(door: TestDoor): Record<string, string> {
  return dockerCliEnv(home, { CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(["sleep", "infinity"]), CLAUDE_BOTTLE_DOOR: door });
}

async function cli(args: string[], door: TestDoor = "unix") {
  const p = Bun.spawn([process.execPath, CLI, ...args], { cwd: repo, env: env(door), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

function git(...args: string[]): string {
  const r = Bun.spawnSync(["git", "-C", repo, ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

// Every ref of the host repository with its object.
const refs = () => git("for-each-ref", "--format=%(refname) %(objectname)").trim().split("\n").sort();

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "cb-wsgit-home-"));
  repo = mkdtempSync(join(tmpdir(), "cb-wsgit-repo-"));
  mkdirSync(join(home, "agents"), { recursive: true });
  writeFileSync(join(home, "agents", "wsgit.md"), "---\nbottle: claude\nworkspace: copy\n---\n\nWorkspace test agent.\n");
  git("init", "-q", "-b", "main");
  writeFileSync(join(repo, "README.md"), "hello\n");
  writeFileSync(join(repo, ".gitignore"), ".env\n");
  writeFileSync(join(repo, ".env"), `API_KEY=${SECRET}\n`);
  git("add", ".");
  git("-c", "user.name=host", "-c", "user.email=host@example.com", "commit", "-q", "-m", "init");
  git("branch", "other");
  git("remote", "add", "origin", "https://example.com/acme/web.git");
});

afterAll(async () => {
  for (const slug of slugs) await cli(["down", slug]);
  if (home) await cli(["cleanup", "--yes"]);
  for (const d of [home, repo]) if (d) rmSync(d, { recursive: true, force: true });
});

for (const door of testDoors()) {
  const c = (args: string[]) => cli(args, door);
  dockerTest(
    `${door} door: a push to origin from the bottle lands on the host as bottle/<slug>/<branch>; the ignored .env never enters`,
    async () => {
      const before = refs().filter((r) => !r.includes("refs/heads/bottle/"));
      const up = await c(["up", "wsgit", "-d", "--yes"]);
      if (up.code !== 0) throw new Error(`up -d failed (${up.code}): ${up.stderr}`);
      const slug = up.stdout.trim().split("\n").pop()!;
      expect(slug).toMatch(/^wsgit-[0-9a-z]{5}$/);
      slugs.push(slug);

      // The tracked files and history arrived; the ignored .env did not.
      expect((await c(["exec", slug, "--", "cat", "/workspace/README.md"])).stdout).toBe("hello\n");
      expect((await c(["exec", slug, "--", "test", "-e", "/workspace/.env"])).code).not.toBe(0);
      const grep = await c(["exec", slug, "--", "grep", "-rF", SECRET, "/workspace", "/home/node", "/tmp"]);
      expect(grep.code).toBe(1); // 1: searched, nothing found (2 would be an error)
      expect(grep.stdout).toBe("");
      expect((await c(["exec", slug, "--", "git", "-C", "/workspace", "remote", "get-url", "origin"])).stdout.trim()).toBe("http://git.bottle.internal/workspace.git");

      const push = await c(["exec", slug, "--", ...PUSH_FEAT_FROM_BOTTLE]);
      expect(push.code).toBe(0);
      const head = push.stdout.trim().split("\n").pop()!;
      expect(head).toMatch(/^[0-9a-f]{40}$/);

      // The push is on the host, under the bottle's namespace, as committed.
      expect(git("rev-parse", `refs/heads/bottle/${slug}/feat`).trim()).toBe(head);
      expect(git("show", `refs/heads/bottle/${slug}/feat:f`)).toBe("x\n");
      // Everything the user had is exactly as before; only the new ref was added.
      // (The other door's run left its own bottle/<slug>/ ref: not the user's.)
      const after = refs().filter((r) => !r.includes("refs/heads/bottle/") || r.startsWith(`refs/heads/bottle/${slug}/`));
      expect(after.filter((r) => !r.startsWith(`refs/heads/bottle/${slug}/`))).toEqual(before);
      expect(after.length).toBe(before.length + 1);
      expect(git("remote", "get-url", "origin").trim()).toBe("https://example.com/acme/web.git");
      expect(git("status", "--porcelain").trim()).toBe("");
      expect((await c(["down", slug])).code).toBe(0);
      expect(doorResources(slug)).toBe("");
    },
    240_000,
  );
}
