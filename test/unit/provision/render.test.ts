import { describe, expect, test } from "bun:test";
import { renderGitconfig } from "../../../src/provision/render.ts";

describe("renderGitconfig", () => {
  test("rewrites every upstream to the gate's git vhost", () => {
    const text = renderGitconfig(
      [
        { name: "web", url: "git@github.com:acme/web.git" },
        { name: "api", url: "https://github.com/acme/api.git" },
      ],
      null,
    );
    expect(text).toBe(
      [
        "# written by claude-bottle",
        '[url "http://git.bottle.internal/api.git"]',
        '\tinsteadOf = "https://github.com/acme/api.git"',
        '\tinsteadOf = "https://github.com/acme/api"',
        '[url "http://git.bottle.internal/web.git"]',
        '\tinsteadOf = "git@github.com:acme/web.git"',
        '\tinsteadOf = "git@github.com:acme/web"',
        "",
      ].join("\n"),
    );
  });

  test("marks the workspace safe and escapes quotes", () => {
    const text = renderGitconfig([{ name: "q", url: 'https://h/a"b\\c' }], "/workspace");
    expect(text).toContain('\tinsteadOf = "https://h/a\\"b\\\\c"');
    expect(text).toContain('[safe]\n\tdirectory = "/workspace"');
  });

  test("refuses a line break in a URL (it would start a new key)", () => {
    expect(() => renderGitconfig([{ name: "x", url: "https://h/\n[core]" }], null)).toThrow();
  });

  test("git itself reads the rewrite", async () => {
    const dir = (await import("node:fs")).mkdtempSync(`${(await import("node:os")).tmpdir()}/cb-gitcfg-`);
    const file = `${dir}/gitconfig`;
    await Bun.write(file, renderGitconfig([{ name: "web", url: "git@github.com:acme/web.git" }], "/workspace"));
    const p = Bun.spawnSync(["git", "config", "--file", file, "--get-all", "url.http://git.bottle.internal/web.git.insteadof"]);
    expect(p.stdout.toString().trim().split("\n")).toEqual(["git@github.com:acme/web.git", "git@github.com:acme/web"]);
    // Both spellings of the remote go to the gate, as git itself resolves them.
    for (const remote of ["git@github.com:acme/web.git", "git@github.com:acme/web"]) {
      const ls = Bun.spawnSync(["git", "ls-remote", "--get-url", remote], { env: { ...process.env, GIT_CONFIG_GLOBAL: file, GIT_CONFIG_NOSYSTEM: "1" } });
      expect(ls.stdout.toString().trim()).toBe("http://git.bottle.internal/web.git");
    }
    (await import("node:fs")).rmSync(dir, { recursive: true, force: true });
  });
});
