import { describe, expect, test } from "bun:test";
import { gateGitUrl, renderGitconfig } from "../../../src/provision/render.ts";

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
        '[url "http://git.bottle.internal/web.git"]',
        '\tinsteadOf = "git@github.com:acme/web.git"',
        "",
      ].join("\n"),
    );
    expect(gateGitUrl("x")).toBe("http://git.bottle.internal/x.git");
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
    const p = Bun.spawnSync(["git", "config", "--file", file, "--get", "url.http://git.bottle.internal/web.git.insteadof"]);
    expect(p.stdout.toString().trim()).toBe("git@github.com:acme/web.git");
    (await import("node:fs")).rmSync(dir, { recursive: true, force: true });
  });
});
