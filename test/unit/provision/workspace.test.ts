import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyList, originRewriteArgv } from "../../../src/provision/workspace.ts";

describe("workspace copy list", () => {
  test(".git first, deleted files skipped, duplicates dropped", () => {
    const present = new Set(["a.ts", "dir/b.ts", "new.txt"]);
    expect(copyList("a.ts\0dir/b.ts\0gone.ts\0new.txt\0a.ts\0", (f) => present.has(f))).toBe(".git\0a.ts\0dir/b.ts\0new.txt\0");
  });
  test("an empty repository still sends its .git", () => {
    expect(copyList("", () => true)).toBe(".git\0");
  });
});

describe("origin rewrite", () => {
  test("only for copy: mount works in the host repo itself, none has no repo", () => {
    expect(originRewriteArgv("mount")).toBeNull();
    expect(originRewriteArgv("none")).toBeNull();
  });

  test("points at the gate's workspace repo, in /workspace, values as arguments", () => {
    const argv = originRewriteArgv("copy")!;
    expect(argv.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(argv.slice(3)).toEqual(["sh", "http://git.bottle.internal/workspace.git", "/workspace"]);
    // Neither the URL nor the path is spliced into the script.
    expect(argv[2]).not.toContain("git.bottle.internal");
    expect(argv[2]).not.toContain("/workspace");
  });

  // The script itself, run by a real sh against real git repositories.
  const root = mkdtempSync(join(tmpdir(), "cb-origin-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const URL = "http://git.bottle.internal/workspace.git";
  const git = (dir: string, ...args: string[]) => {
    const r = Bun.spawnSync(["git", "-C", dir, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" } });
    return { code: r.exitCode, out: r.stdout.toString().trim() };
  };
  const repo = (name: string) => {
    const dir = join(root, name);
    mkdirSync(dir);
    git(dir, "init", "-q");
    return dir;
  };
  const run = (dir: string) => Bun.spawnSync(originRewriteArgv("copy", URL, dir)!, { stdout: "pipe", stderr: "pipe", env: { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" } });

  test("an existing origin (and its pushurl) is replaced; other remotes stay", () => {
    const dir = repo("with-origin");
    git(dir, "remote", "add", "origin", "git@github.com:acme/web.git");
    git(dir, "config", "remote.origin.pushurl", "git@github.com:acme/web-push.git");
    git(dir, "remote", "add", "upstream", "https://example.com/up.git");
    expect(run(dir).exitCode).toBe(0);
    expect(git(dir, "remote", "get-url", "origin").out).toBe(URL);
    expect(git(dir, "remote", "get-url", "--push", "origin").out).toBe(URL);
    expect(git(dir, "config", "--get-all", "remote.origin.pushurl").code).not.toBe(0);
    expect(git(dir, "remote", "get-url", "upstream").out).toBe("https://example.com/up.git");
    // Run twice: the same result.
    expect(run(dir).exitCode).toBe(0);
    expect(git(dir, "config", "--get-all", "remote.origin.url").out).toBe(URL);
  });

  test("no origin: one is added", () => {
    const dir = repo("no-origin");
    expect(run(dir).exitCode).toBe(0);
    expect(git(dir, "remote", "get-url", "origin").out).toBe(URL);
  });

  test("no .git: nothing to do, and nothing is created", () => {
    const dir = join(root, "plain");
    mkdirSync(dir);
    expect(run(dir).exitCode).toBe(0);
    expect(Bun.spawnSync(["ls", "-A", dir]).stdout.toString()).toBe("");
  });

  test("a missing /workspace is an error, not a silent success", () => {
    expect(run(join(root, "missing")).exitCode).not.toBe(0);
  });
});
