import { afterAll, beforeAll, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerCliEnv, dockerTest } from "../../helpers/docker.ts";

// Nothing the agent did in a `copy` workspace is lost when its bottle goes:
// the real CLI, gate and docker engine; the agent's own git in the bottle;
// the bundle judged by the host's git (fetched into the host repository,
// its files read back).

const CLI = join(import.meta.dir, "..", "..", "..", "src", "cli.ts");
let home = "";
let repo = "";
const slugs: string[] = [];

async function cli(args: string[], agent: string[] = ["sleep", "infinity"]) {
  const env = dockerCliEnv(home, { CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(agent), CLAUDE_BOTTLE_DOOR: "unix" });
  const p = Bun.spawn([process.execPath, CLI, ...args], { cwd: repo, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

function git(...args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(["git", "-C", repo, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

const saved = () => (existsSync(join(home, "saved")) ? readdirSync(join(home, "saved")).sort() : []);
// The slug a session used, from its "starting bottle <slug>" line.
const slugOf = (stderr: string) => /starting bottle (\S+)/.exec(stderr)?.[1] ?? "";
// The line that says where the work went, and the file it names.
function savedLine(stderr: string): { line: string; file: string } | null {
  const line = stderr.split("\n").find((l) => l.startsWith("claude-bottle: saved "));
  const file = line ? / to (\S+\.bundle)/.exec(line)?.[1] : undefined;
  return line && file ? { line, file } : null;
}

// Agent scripts, run as the agent in /workspace.
const agent = (script: string) => ["sh", "-c", `cd /workspace && git config user.email agent@bottle && git config user.name agent && ${script}`];

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "cb-save-home-"));
  repo = mkdtempSync(join(tmpdir(), "cb-save-repo-"));
  mkdirSync(join(home, "agents"), { recursive: true });
  writeFileSync(join(home, "agents", "wsave.md"), "---\nbottle: claude\nworkspace: copy\n---\n\nSave test agent.\n");
  git("init", "-q", "-b", "main");
  writeFileSync(join(repo, "README.md"), "hello\n");
  writeFileSync(join(repo, ".gitignore"), "*.log\n");
  git("add", ".");
  git("-c", "user.name=host", "-c", "user.email=host@example.com", "commit", "-q", "-m", "init");
});

afterAll(async () => {
  for (const slug of slugs) await cli(["down", slug]);
  for (const d of [home, repo]) if (d) rmSync(d, { recursive: true, force: true });
});

dockerTest(
  "a session that ends non-zero: the agent's commit and its untracked file are saved as a bundle the host's git fetches",
  async () => {
    const before = saved();
    const r = await cli(["up", "wsave", "--yes"], agent("echo committed > agent.txt && git add agent.txt && git commit -qm agent && echo loose > loose.txt && exit 3"));
    const slug = slugOf(r.stderr);
    slugs.push(slug);
    expect(r.code).toBe(3);
    const s = savedLine(r.stderr);
    if (!s) throw new Error(`no saved line:\n${r.stderr}`);
    expect(s.line).toContain("1 commit not on the host");
    expect(s.line).toContain("uncommitted changes");
    expect(s.file.startsWith(join(home, "saved", `${slug}-`))).toBe(true);
    expect(saved()).toEqual([...before, s.file.split("/").pop()!].sort());
    expect(statSync(s.file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "saved")).mode & 0o777).toBe(0o700);
    // Still kept for resume, as before; the line came before the resume hint.
    expect(r.stderr).toContain(`resume:  claude-bottle resume ${slug}`);

    // The way back the line gives, run by the host's git in the host repository.
    expect(git("bundle", "verify", s.file).code).toBe(0);
    expect(git("fetch", "-q", s.file, `refs/*:refs/bottle-saved/${slug}/*`).code).toBe(0);
    expect(git("show", `refs/bottle-saved/${slug}/heads/main:agent.txt`).out).toBe("committed\n");
    expect(git("show", `refs/bottle-saved/${slug}/claude-bottle/uncommitted:loose.txt`).out).toBe("loose\n");
    // The user's own branches did not move.
    expect(git("show", "main:README.md").out).toBe("hello\n");
    expect(git("cat-file", "-e", "main:agent.txt").code).not.toBe(0);

    // Taking the kept state away: its bottle is gone already, nothing more to save or to complain about.
    const d = await cli(["down", slug]);
    expect(d.code).toBe(0);
    expect(d.stderr).not.toContain("could not be saved");
    expect(savedLine(d.stderr)).toBeNull();
  },
  240_000,
);

dockerTest(
  "up -d, a file written through exec, then down: the file is saved before the bottle goes",
  async () => {
    const up = await cli(["up", "wsave", "-d", "--yes"]);
    if (up.code !== 0) throw new Error(`up -d failed (${up.code}): ${up.stderr}`);
    const slug = up.stdout.trim().split("\n").pop()!;
    slugs.push(slug);
    expect((await cli(["exec", slug, "--", "sh", "-c", "echo from-exec > /workspace/exec.txt"])).code).toBe(0);
    const d = await cli(["down", slug]);
    expect(d.code).toBe(0);
    const s = savedLine(d.stderr);
    if (!s) throw new Error(`no saved line:\n${d.stderr}`);
    expect(s.line).not.toContain("commit not on the host");
    expect(git("fetch", "-q", s.file, `refs/*:refs/bottle-saved/${slug}/*`).code).toBe(0);
    expect(git("show", `refs/bottle-saved/${slug}/claude-bottle/uncommitted:exec.txt`).out).toBe("from-exec\n");
    expect(d.stderr).toContain(`${slug}: stopped and removed`);
  },
  240_000,
);

dockerTest(
  "a session with nothing new leaves no bundle and says nothing; the same session with one new file does",
  async () => {
    const before = saved();
    // Nothing new: a branch at the base commit, an ignored file.
    const quiet = await cli(["up", "wsave", "--yes"], agent("git branch just-a-name && echo x > build.log && exit 0"));
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toContain(`starting bottle ${slugOf(quiet.stderr)}`);
    expect(savedLine(quiet.stderr)).toBeNull();
    expect(quiet.stderr).not.toContain("could not be saved");
    expect(saved()).toEqual(before);
    // The control: the same exit-0 session with one untracked file is saved,
    // so the silence above was the step finding nothing, not the step not running.
    const control = await cli(["up", "wsave", "--yes"], agent("echo x > build.log && echo new > new.txt && exit 0"));
    expect(control.code).toBe(0);
    const s = savedLine(control.stderr);
    if (!s) throw new Error(`no saved line:\n${control.stderr}`);
    expect(saved().length).toBe(before.length + 1);
  },
  240_000,
);

dockerTest(
  "SIGTERM to an attached session: the work is saved before the signal takes the bottle away",
  async () => {
    const env = dockerCliEnv(home, { CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(agent("echo signalled > sig.txt && exec sleep infinity")), CLAUDE_BOTTLE_DOOR: "unix" });
    const p = Bun.spawn([process.execPath, CLI, "up", "wsave", "--yes"], { cwd: repo, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const stderr = new Response(p.stderr).text();
    // The agent has written its file (seen from a second exec) before the signal.
    let slug = "";
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error("the agent never wrote its file");
      // This session's state dir: the others' are gone or already listed.
      const states = existsSync(join(home, "state")) ? readdirSync(join(home, "state")) : [];
      slug ||= states.find((d) => d.startsWith("wsave-") && !slugs.includes(d)) ?? "";
      if (slug && (await cli(["exec", slug, "--", "test", "-e", "/workspace/sig.txt"])).code === 0) break;
      await Bun.sleep(100);
    }
    slugs.push(slug);
    p.kill("SIGTERM");
    const [code, err] = await Promise.all([p.exited, stderr]);
    expect(code).toBe(143);
    const s = savedLine(err);
    if (!s) throw new Error(`no saved line:\n${err}`);
    expect(git("fetch", "-q", s.file, `refs/*:refs/bottle-saved/${slug}/*`).code).toBe(0);
    expect(git("show", `refs/bottle-saved/${slug}/claude-bottle/uncommitted:sig.txt`).out).toBe("signalled\n");
  },
  240_000,
);
