import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bottle, Captured, ExecOptions, RunInput } from "../../../src/backends/types.ts";
import { saveWork } from "../../../src/launch/save-work.ts";
import { hostRefTips, recordBaseTips } from "../../../src/provision/base-tips.ts";
import { baseTipsInput, parseSaveOutput, saveWorkArgv } from "../../../src/provision/save-work.ts";
import { paths } from "../../../src/state/paths.ts";
import { tempRepo } from "../../helpers/git-repo.ts";

// The save step's script, run by the real sh and the real git against a
// repository on the host standing in for the bottle's copy; its bundle is
// judged by git itself (bundle verify, then a fetch into a clone of the
// base, whose checkout must show the agent's files).

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function scratch(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

// A repository as the host had it (one commit on main), and its copy in
// the "bottle" (a clone, as the copy carries the whole .git).
function hostAndCopy() {
  const host = tempRepo("cb-save-host-");
  cleanups.push(host.done);
  host.git(["checkout", "-q", "-b", "main"]);
  writeFileSync(join(host.dir, "a.txt"), "one\n");
  writeFileSync(join(host.dir, ".gitignore"), "*.log\n");
  host.git(["add", "-A"]);
  host.git(["commit", "-q", "-m", "base"]);
  const root = scratch("cb-save-copy-");
  const copy = join(root, "ws");
  host.git(["clone", "-q", host.dir, copy]);
  const git = (args: string[]) => {
    const r = Bun.spawnSync(["git", ...args], { cwd: copy, env: { ...hermetic(root), GIT_AUTHOR_NAME: "Agent", GIT_AUTHOR_EMAIL: "agent@example.invalid", GIT_COMMITTER_NAME: "Agent", GIT_COMMITTER_EMAIL: "agent@example.invalid" } });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
    return r.stdout.toString().trim();
  };
  return { host, copy, git, root };
}

function hermetic(home: string): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, GIT_CONFIG_NOSYSTEM: "1" };
}

async function runScript(dir: string, tips: string[], cap?: number): Promise<Captured> {
  const p = Bun.spawn(saveWorkArgv("tester-ab1c2", cap, dir), { stdin: new Blob([baseTipsInput(tips)]), stdout: "pipe", stderr: "pipe", env: hermetic(dir) });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

// What git makes of a bundle: verified against a fresh clone of the host
// repository, fetched into it; returns the clone and its git.
function fetchInto(hostDir: string, bundle: string) {
  const d = join(scratch("cb-save-fetch-"), "c");
  Bun.spawnSync(["git", "clone", "-q", hostDir, d], { env: hermetic(d) });
  const git = (args: string[]) => {
    const r = Bun.spawnSync(["git", ...args], { cwd: d, env: hermetic(d) });
    return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
  };
  expect(git(["bundle", "verify", bundle]).code).toBe(0);
  expect(git(["fetch", "-q", bundle, "refs/*:refs/bottle-saved/s/*"]).code).toBe(0);
  return git;
}

describe("the save script (real sh, real git)", () => {
  test("a commit, a modified file and an untracked file come back through a bundle", async () => {
    const { host, copy, git } = hostAndCopy();
    const base = hostRefTipsSync(host.dir);
    git(["checkout", "-q", "-b", "feature"]);
    writeFileSync(join(copy, "committed.txt"), "agent commit\n");
    git(["add", "committed.txt"]);
    git(["commit", "-q", "-m", "agent work"]);
    writeFileSync(join(copy, "a.txt"), "one, changed\n");
    writeFileSync(join(copy, "untracked.txt"), "not added\n");
    writeFileSync(join(copy, "build.log"), "ignored\n");
    const indexBefore = readFileSync(join(copy, ".git", "index"));
    const refsBefore = git(["for-each-ref"]);

    const r = await runScript(copy, base);
    expect(r.code).toBe(0);
    const saved = parseSaveOutput(r.stdout);
    if (saved.kind !== "bundle") throw new Error(`expected a bundle, got ${JSON.stringify(saved)} / ${r.stderr}`);
    expect(saved.commits).toBe(1);
    expect(saved.uncommitted).toBe(true);
    expect(saved.unreadable).toBe(false);
    // The agent's own index, refs and work tree are as they were.
    expect(readFileSync(join(copy, ".git", "index")).equals(indexBefore)).toBe(true);
    expect(git(["for-each-ref"])).toBe(refsBefore);
    expect(readdirSync(join(copy, ".git")).some((n) => n.startsWith("claude-bottle-save"))).toBe(false);

    const file = join(scratch("cb-save-b-"), "x.bundle");
    writeFileSync(file, saved.bundle);
    const c = fetchInto(host.dir, file);
    const heads = c(["bundle", "list-heads", file]).out;
    expect(heads).toContain("refs/heads/feature");
    expect(heads).toContain("refs/claude-bottle/uncommitted");
    // Only the new work is in it: main was on the host already.
    expect(heads).not.toContain("refs/heads/main");
    expect(c(["show", "refs/bottle-saved/s/heads/feature:committed.txt"]).out).toBe("agent commit\n");
    const wip = "refs/bottle-saved/s/claude-bottle/uncommitted";
    expect(c(["show", `${wip}:a.txt`]).out).toBe("one, changed\n");
    expect(c(["show", `${wip}:untracked.txt`]).out).toBe("not added\n");
    expect(c(["show", `${wip}:committed.txt`]).out).toBe("agent commit\n");
    expect(c(["cat-file", "-e", `${wip}:build.log`]).code).not.toBe(0); // ignored stays out
    expect(c(["rev-parse", `${wip}^`]).out.trim()).toBe(c(["rev-parse", "refs/bottle-saved/s/heads/feature"]).out.trim());
  });

  test("a deleted file and a detached HEAD's commit are saved too", async () => {
    const { host, copy, git } = hostAndCopy();
    git(["checkout", "-q", "--detach"]);
    writeFileSync(join(copy, "d.txt"), "detached\n");
    git(["add", "d.txt"]);
    git(["commit", "-q", "-m", "on a detached head"]);
    rmSync(join(copy, "a.txt"));
    const saved = parseSaveOutput((await runScript(copy, hostRefTipsSync(host.dir))).stdout);
    if (saved.kind !== "bundle") throw new Error(JSON.stringify(saved));
    const file = join(scratch("cb-save-b-"), "x.bundle");
    writeFileSync(file, saved.bundle);
    const c = fetchInto(host.dir, file);
    expect(c(["show", "refs/bottle-saved/s/claude-bottle/detached-head:d.txt"]).out).toBe("detached\n");
    expect(c(["cat-file", "-e", "refs/bottle-saved/s/claude-bottle/uncommitted:a.txt"]).code).not.toBe(0);
  });

  test("nothing new: a clean copy, a branch made at a base commit, work the host already has", async () => {
    const { host, copy, git } = hostAndCopy();
    git(["branch", "just-a-name"]);
    expect(parseSaveOutput((await runScript(copy, hostRefTipsSync(host.dir))).stdout)).toEqual({ kind: "none" });
    // Work pushed to the host (through the gate) is the host's: not saved again.
    writeFileSync(join(copy, "pushed.txt"), "x\n");
    git(["add", "pushed.txt"]);
    git(["commit", "-q", "-m", "pushed"]);
    git(["push", "-q", "origin", "HEAD:refs/heads/bottle/tester/main"]);
    expect(parseSaveOutput((await runScript(copy, hostRefTipsSync(host.dir))).stdout)).toEqual({ kind: "none" });
  });

  test("a base tip the copy does not have is dropped, the rest still exclude", async () => {
    const { host, copy, git } = hostAndCopy();
    const base = hostRefTipsSync(host.dir);
    writeFileSync(join(copy, "n.txt"), "n\n");
    git(["add", "n.txt"]);
    git(["commit", "-q", "-m", "n"]);
    const saved = parseSaveOutput((await runScript(copy, [...base, "f".repeat(40)])).stdout);
    expect(saved.kind).toBe("bundle");
    if (saved.kind === "bundle") expect(saved.commits).toBe(1);
  });

  test("not a repository, or no folder at all: nothing", async () => {
    const d = scratch("cb-save-plain-");
    writeFileSync(join(d, "f.txt"), "plain\n");
    const r = await runScript(d, []);
    expect(r.code).toBe(0);
    expect(parseSaveOutput(r.stdout)).toEqual({ kind: "none" });
    expect(parseSaveOutput((await runScript(join(d, "missing"), [])).stdout)).toEqual({ kind: "none" });
  });

  test("past the cap: its size, and no bundle bytes at all", async () => {
    const { host, copy } = hostAndCopy();
    writeFileSync(join(copy, "big.bin"), Buffer.alloc(64 * 1024, 7));
    const r = await runScript(copy, hostRefTipsSync(host.dir), 100);
    const saved = parseSaveOutput(r.stdout, 100);
    expect(saved.kind).toBe("too-big");
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
  });
});

describe("parseSaveOutput takes nothing on trust", () => {
  const good = (bundle: Buffer, n = 1) => `claude-bottle-save bundle ${n} 0 0 ${bundle.length}\n${bundle.toString("base64")}\n`;
  const b = Buffer.from("# v2 git bundle\nabc\n");
  test("a whole bundle is read", () => {
    const s = parseSaveOutput(good(b));
    expect(s.kind === "bundle" && s.bundle.equals(b)).toBe(true);
  });
  test("a short bundle, a wrong magic, a bad header or a size past the cap are refused", () => {
    expect(parseSaveOutput(good(b).replace(/\n[^\n]+\n$/, "\nIyB2\n")).kind).toBe("bad");
    expect(parseSaveOutput(good(Buffer.from("#!/bin/sh\nrm -rf /\n"))).kind).toBe("bad");
    expect(parseSaveOutput(`claude-bottle-save bundle x 0 0 3\nabc`).kind).toBe("bad");
    expect(parseSaveOutput("hello\n").kind).toBe("bad");
    expect(parseSaveOutput(good(b), 5).kind).toBe("bad");
  });
});

// A Bottle whose commands run on the host, in a folder standing in for
// /workspace: saveWork's own effects (the file, its modes, the one line)
// over the real script.
function hostBottle(workspace: string, behave: "run" | "gone" | "hang" = "run"): Bottle {
  return {
    slug: "tester-ab1c2",
    exec: async () => 0,
    stop: async () => {},
    remove: async () => {},
    async run(argv: string[], opts: ExecOptions & { input?: RunInput } = {}): Promise<Captured> {
      if (behave === "gone") throw new Error("bottle tester-ab1c2 is not running; 'claude-bottle ls' shows its status");
      if (behave === "hang") return new Promise(() => {});
      const args = argv.slice(0, 4).concat(workspace, argv.slice(5));
      const p = Bun.spawn(args, { stdin: new Blob([opts.input as string]), stdout: "pipe", stderr: "pipe", env: hermetic(workspace) });
      const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { code, stdout, stderr };
    },
  };
}

describe("saveWork", () => {
  function setUp() {
    const hc = hostAndCopy();
    const home = scratch("cb-save-home-");
    const stateDir = join(home, "state", "tester-ab1c2");
    mkdirSync(stateDir, { recursive: true });
    const lines: string[] = [];
    const input = { home, slug: "tester-ab1c2", stateDir, spec: { workspace: { mode: "copy" as const, path: hc.host.dir } }, err: (l: string) => lines.push(l) };
    return { ...hc, home, stateDir, lines, input };
  }

  test("writes one 0600 bundle in a 0700 folder and says how to fetch it", async () => {
    const s = setUp();
    await recordBaseTips(s.host.dir, paths.baseTips(s.stateDir));
    writeFileSync(join(s.copy, "new.txt"), "new\n");
    const file = await saveWork(hostBottle(s.copy), { ...s.input, now: new Date("2026-11-26T07:54:43.123Z") });
    expect(file).toBe(join(s.home, "saved", "tester-ab1c2-20261126T075443Z.bundle"));
    expect(statSync(file!).mode & 0o777).toBe(0o600);
    expect(statSync(join(s.home, "saved")).mode & 0o777).toBe(0o700);
    expect(s.lines).toHaveLength(1);
    expect(s.lines[0]).toContain(`git fetch ${file} 'refs/*:refs/bottle-saved/tester-ab1c2/*'`);
    expect(s.lines[0]).toContain("uncommitted changes");
    const c = fetchInto(s.host.dir, file!);
    expect(c(["show", "refs/bottle-saved/s/claude-bottle/uncommitted:new.txt"]).out).toBe("new\n");
  });

  test("nothing new: no file, no line", async () => {
    const s = setUp();
    expect(await saveWork(hostBottle(s.copy), s.input)).toBeNull();
    expect(s.lines).toEqual([]);
    expect(existsSync(join(s.home, "saved"))).toBe(false);
  });

  test("a bottle that is gone, or one that does not answer: one line, no file, no throw", async () => {
    const s = setUp();
    expect(await saveWork(hostBottle(s.copy, "gone"), s.input)).toBeNull();
    expect(await saveWork(hostBottle(s.copy, "hang"), { ...s.input, timeoutMs: 200 })).toBeNull();
    expect(s.lines).toHaveLength(2);
    for (const l of s.lines) expect(l).toContain("could not be saved");
    expect(s.lines[1]).toContain("no answer from the bottle");
    expect(existsSync(join(s.home, "saved"))).toBe(false);
  });

  test("not a copy, or not a repository: the bottle is not even asked", async () => {
    const s = setUp();
    const plain = scratch("cb-save-plain-");
    for (const workspace of [{ mode: "mount" as const, path: s.host.dir }, { mode: "copy" as const, path: plain }]) {
      expect(await saveWork(hostBottle(s.copy, "gone"), { ...s.input, spec: { workspace } })).toBeNull();
    }
    expect(s.lines).toEqual([]);
  });
});

function hostRefTipsSync(dir: string): string[] {
  const r = Bun.spawnSync(["sh", "-c", 'git for-each-ref --format="%(objectname)"; git rev-parse HEAD'], { cwd: dir, env: hermetic(dir) });
  return r.stdout.toString().split("\n").filter((l) => l.length > 0);
}

test("hostRefTips reads every ref and HEAD of the host repository, nothing of a plain folder", async () => {
  const { host } = hostAndCopy();
  expect((await hostRefTips(host.dir)).sort()).toEqual(hostRefTipsSync(host.dir).sort());
  expect(await hostRefTips(scratch("cb-save-plain-"))).toEqual([]);
});
