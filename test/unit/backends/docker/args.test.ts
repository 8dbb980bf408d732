import { describe, expect, test } from "bun:test";
import { assertNoSecretValues, envArgs, execArgv, mountArg, runArgv, type RunInput, agentUserArgs } from "../../../../src/backends/docker/args.ts";

const SECRET = "sk-live-PLANTED-0123456789abcdef";

function input(over: Partial<RunInput> = {}): RunInput {
  return {
    name: "claude-bottle-demo-abcde",
    slug: "demo-abcde",
    image: "claude-bottle/agent:0123456789ab",
    sockDir: "/home/u/.claude-bottle/state/demo-abcde/sock",
    env: { plain: { HTTP_PROXY: "http://127.0.0.1:3128", LITERAL: "x=y" }, secretNames: ["API_TOKEN"] },
    resources: {},
    workspace: { mode: "none", path: null },
    ...over,
  };
}

function pairs(argv: string[], flag: string): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === flag) out.push(argv[i + 1]!);
  });
  return out;
}

describe("runArgv", () => {
  test("seals the container: no network, no capabilities, no new privileges, a pids ceiling", () => {
    const a = runArgv(input());
    expect(a.slice(0, 2)).toEqual(["run", "-d"]);
    expect(pairs(a, "--network")).toEqual(["none"]);
    expect(pairs(a, "--cap-drop")).toEqual(["ALL"]);
    expect(a).not.toContain("--cap-add");
    expect(a).not.toContain("--privileged");
    expect(pairs(a, "--security-opt")).toEqual(["no-new-privileges"]);
    expect(Number(pairs(a, "--pids-limit")[0])).toBeGreaterThan(0);
    expect(a).toContain("--init");
    expect(pairs(a, "--user")).toEqual(["node"]);
    // Mount mode: the work tree's owner, with a home of its own.
    expect(agentUserArgs({ mode: "mount", path: "/p", owner: { uid: 4321, gid: 99 } })).toEqual([
      "--user",
      "4321:99",
      "--tmpfs",
      "/home/node:uid=4321,gid=99,mode=0700,exec",
      "--env",
      "HOME=/home/node",
    ]);
    expect(agentUserArgs({ mode: "copy", path: "/p", owner: { uid: 4321, gid: 99 } })).toEqual(["--user", "node"]);
  });

  test("labels and name carry the slug", () => {
    const a = runArgv(input());
    expect(pairs(a, "--name")).toEqual(["claude-bottle-demo-abcde"]);
    expect(pairs(a, "--label")).toEqual(["claude-bottle=1", "claude-bottle.slug=demo-abcde"]);
  });

  test("the socket directory is mounted read-only at /run/claude-bottle and the relay is the command", () => {
    const a = runArgv(input());
    expect(pairs(a, "--mount")).toEqual(["type=bind,source=/home/u/.claude-bottle/state/demo-abcde/sock,target=/run/claude-bottle,readonly"]);
    const i = a.indexOf("claude-bottle/agent:0123456789ab");
    expect(a.slice(i + 1)).toEqual(["socat", "TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:/run/claude-bottle/gate.sock"]);
  });

  test("resources from the spec", () => {
    const a = runArgv(input({ resources: { cpus: 2, memory: 4096 } }));
    expect(pairs(a, "--memory")).toEqual(["4096m"]);
    expect(pairs(a, "--cpus")).toEqual(["2"]);
    const none = runArgv(input());
    expect(none).not.toContain("--memory");
    expect(none).not.toContain("--cpus");
  });

  test("mount mode: work tree read-write, .git/hooks and .git/config read-only on top", () => {
    const a = runArgv(input({ workspace: { mode: "mount", path: "/src/repo", gitHooks: true, gitConfig: true } }));
    expect(pairs(a, "--mount").slice(1)).toEqual([
      "type=bind,source=/src/repo,target=/workspace",
      "type=bind,source=/src/repo/.git/hooks,target=/workspace/.git/hooks,readonly",
      "type=bind,source=/src/repo/.git/config,target=/workspace/.git/config,readonly",
    ]);
    const copy = runArgv(input({ workspace: { mode: "copy", path: "/src/repo" } }));
    expect(pairs(copy, "--mount")).toHaveLength(1);
  });

  test("secret env goes by name only, even when its value was planted in the plain env", () => {
    const a = runArgv(input({ env: { plain: { API_TOKEN: SECRET, OTHER: "ok" }, secretNames: ["API_TOKEN"] } }));
    expect(pairs(a, "-e")).toEqual(["OTHER=ok", "API_TOKEN"]);
    expect(a.join("\n")).not.toContain(SECRET);
  });

  test("assertNoSecretValues names the variable, never the value", () => {
    const argv = ["run", "-e", `LEAK=${SECRET}`];
    let msg = "";
    try {
      assertNoSecretValues(argv, { API_TOKEN: SECRET });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain("API_TOKEN");
    expect(msg).not.toContain(SECRET);
    expect(() => assertNoSecretValues(runArgv(input()), { API_TOKEN: SECRET })).not.toThrow();
  });

  test("invalid env names are refused", () => {
    expect(() => envArgs({ plain: { "A=B": "x" }, secretNames: [] })).toThrow();
    expect(() => envArgs({ plain: {}, secretNames: ["X Y"] })).toThrow();
  });
});

describe("mountArg", () => {
  test("quotes CSV fields with commas or quotes", () => {
    expect(mountArg("/a,b", "/t", false)).toBe('type=bind,"source=/a,b",target=/t');
    expect(mountArg('/a"b', "/t", true)).toBe('type=bind,"source=/a""b",target=/t,readonly');
  });
});

describe("execArgv", () => {
  test("the agent is the container's own user (node, or the mounted tree's owner); -i/-t only when asked", () => {
    expect(execArgv({ name: "c", argv: ["sh", "-c", "exit 7"] })).toEqual(["exec", "c", "sh", "-c", "exit 7"]);
    expect(execArgv({ name: "c", argv: ["id"], user: "node" })).toEqual(["exec", "c", "id"]);
    expect(execArgv({ name: "c", argv: ["id"], user: "root" })).toEqual(["exec", "-u", "root", "c", "id"]);
    expect(execArgv({ name: "c", argv: ["claude"], interactive: true, tty: true, user: "0", workdir: "/w", env: { A: "1" } })).toEqual([
      "exec",
      "-i",
      "-t",
      "-u",
      "0",
      "-w",
      "/w",
      "-e",
      "A=1",
      "c",
      "claude",
    ]);
    expect(() => execArgv({ name: "c", argv: [] })).toThrow();
  });
});
