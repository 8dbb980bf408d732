import { describe, expect, test } from "bun:test";
import { gateGitUrl, renderClaudeJson, renderClaudeSettings, renderGitconfig } from "../../../../src/backends/docker/render.ts";
import { copyList } from "../../../../src/backends/docker/workspace.ts";
import { parseLabels, relayListeningProbe, toStatus } from "../../../../src/backends/docker/index.ts";
import { dockerMessage, isNoSuchContainer } from "../../../../src/backends/docker/cli.ts";

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

describe("Claude settings", () => {
  test("settings.json keeps nonessential traffic off", () => {
    expect(JSON.parse(renderClaudeSettings()).env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe("1");
  });
  test("supervise registers the gate's MCP server over http; otherwise none", () => {
    expect(JSON.parse(renderClaudeJson(true))).toEqual({ mcpServers: { supervise: { type: "http", url: "http://supervise.bottle.internal/mcp" } } });
    expect(JSON.parse(renderClaudeJson(false))).toEqual({});
  });
});

describe("workspace copy list", () => {
  test(".git first, deleted files skipped, duplicates dropped", () => {
    const present = new Set(["a.ts", "dir/b.ts", "new.txt"]);
    expect(copyList("a.ts\0dir/b.ts\0gone.ts\0new.txt\0a.ts\0", (f) => present.has(f))).toBe(".git\0a.ts\0dir/b.ts\0new.txt\0");
  });
});

describe("docker output parsing", () => {
  test("labels, states, messages", () => {
    expect(parseLabels("claude-bottle=1,claude-bottle.slug=demo-abcde,x=a=b")).toEqual({ "claude-bottle": "1", "claude-bottle.slug": "demo-abcde", x: "a=b" });
    expect(toStatus("running")).toBe("running");
    expect(toStatus("exited")).toBe("stopped");
    expect(toStatus("created")).toBe("created");
    expect(toStatus("weird")).toBe("unknown");
    expect(dockerMessage("WARNING: x\nError response from daemon: No such container: c\n", 1)).toBe("No such container: c");
    expect(dockerMessage("", 3)).toBe("exit 3");
    expect(isNoSuchContainer("Error: No such container: c")).toBe(true);
    expect(isNoSuchContainer("Error: No such object: c")).toBe(true);
  });
  test("relay probe looks for a LISTEN on 127.0.0.1:3128 (0x0C38)", () => {
    expect(relayListeningProbe()[2]).toContain(" 0100007F:0C38 00000000:0000 0A ");
  });
});
