import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

  test("with the home's tar: mounted read-only, unpacked by the first command, which then becomes the relay", () => {
    const a = runArgv(input({ homeTar: "/home/u/.claude-bottle/state/demo-abcde/home.tar" }));
    expect(pairs(a, "--mount")).toContain("type=bind,source=/home/u/.claude-bottle/state/demo-abcde/home.tar,target=/run/claude-bottle-home.tar,readonly");
    const cmd = a.slice(a.indexOf("claude-bottle/agent:0123456789ab") + 1);
    expect(cmd.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(cmd.slice(3)).toEqual(["/run/claude-bottle-home.tar", "/home/node", "socat", "TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:/run/claude-bottle/gate.sock"]);
    // Behind the bridge door the engine may not see host files: no tar, the
    // bridge's relay command (provisioning sends the home in).
    const b = runArgv(input({ homeTar: "/h/home.tar", doorVolume: "v" }));
    expect(b.join(" ")).not.toContain("home.tar");
  });

  test("the first command, run by a real sh: unpacks as the user, then execs the relay; a bad tar stops it before", () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-seeded-"));
    try {
      const staged = join(dir, "staged");
      mkdirSync(join(staged, ".claude"), { recursive: true });
      writeFileSync(join(staged, ".claude", "settings.json"), "{}", { mode: 0o600 });
      writeFileSync(join(staged, ".gitconfig"), "[user]\n");
      expect(Bun.spawnSync(["tar", "-C", staged, "-cf", join(dir, "home.tar"), ".claude", ".gitconfig"]).exitCode).toBe(0);
      mkdirSync(join(dir, "home"));
      const a = runArgv(input({ homeTar: "/x" }));
      const script = a[a.indexOf("claude-bottle/agent:0123456789ab") + 3]!;
      // The relay stands in as a command that proves the home was there first.
      const relay = ["sh", "-c", 'test -f "$0/.gitconfig" && echo relay-up', join(dir, "home")];
      const ok = Bun.spawnSync(["sh", "-c", script, join(dir, "home.tar"), join(dir, "home"), ...relay], { stdout: "pipe", stderr: "pipe" });
      expect({ code: ok.exitCode, out: ok.stdout.toString() }).toEqual({ code: 0, out: "relay-up\n" });
      expect(statSync(join(dir, "home", ".claude", "settings.json")).mode & 0o777).toBe(0o600);
      writeFileSync(join(dir, "bad.tar"), "not a tar archive at all".repeat(40));
      const bad = Bun.spawnSync(["sh", "-c", script, join(dir, "bad.tar"), join(dir, "home"), "echo", "relay-up"], { stdout: "pipe", stderr: "pipe" });
      expect(bad.exitCode).not.toBe(0);
      expect(bad.stdout.toString()).toBe("");
      expect(bad.stderr.toString()).toContain("tar");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
