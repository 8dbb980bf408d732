import { afterAll, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerTest, TEST_BASE_IMAGE, testDoors } from "../../helpers/docker.ts";

// `up` as a person runs it, in a pseudo-terminal (util-linux `script`):
// the y/N question, a secret asked without echo, the agent attached with a
// real tty that receives the very next line typed, and its exit code.

const CLI = join(import.meta.dir, "..", "..", "..", "src", "cli.ts");
const SECRET = "typed-Secret-9f3k2";
const home = mkdtempSync(join(tmpdir(), "cb-tty-"));
afterAll(async () => {
  for (const slug of existsSync(join(home, "state")) ? readdirSync(join(home, "state")) : []) {
    Bun.spawnSync([process.execPath, CLI, "down", slug], { env: { ...process.env, CLAUDE_BOTTLE_HOME: home } });
  }
  rmSync(home, { recursive: true, force: true });
});

const hasScript = process.platform === "linux" && Bun.which("script") !== null;

// `command` (a shell line) in a pseudo-terminal, with the CLI's test
// environment and the agent `agent`: what it printed so far, a wait for a
// pattern, typing, and the end.
function inTerminal(command: string, agent: string[], extra: Record<string, string> = {}) {
  const p = Bun.spawn(["script", "-qec", command, "/dev/null"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: {
      ...process.env,
      NO_COLOR: "1",
      CLAUDE_BOTTLE_HOME: home,
      CLAUDE_BOTTLE_BACKEND: "docker",
      CLAUDE_BOTTLE_BASE_IMAGE: TEST_BASE_IMAGE,
      CLAUDE_BOTTLE_AGENT_PACKAGE: "none",
      CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(agent),
      ...extra,
    },
  });
  const t = { out: "" };
  const pump = (async () => {
    for await (const c of p.stdout) t.out += new TextDecoder().decode(c);
  })();
  return {
    get out() {
      return t.out;
    },
    async waitFor(re: RegExp, ms: number): Promise<boolean> {
      const t0 = Date.now();
      while (!re.test(t.out) && Date.now() - t0 < ms) await Bun.sleep(100);
      return re.test(t.out);
    },
    type(s: string): void {
      p.stdin.write(s);
      p.stdin.flush();
    },
    async end(): Promise<void> {
      p.kill();
      await Promise.race([pump, Bun.sleep(1000)]);
    },
  };
}

for (const door of testDoors()) {
  dockerTest(
    `${door} door: interactive up: confirm, hidden secret prompt, tty passthrough, non-zero exit keeps state`,
    async () => {
      expect(hasScript).toBe(true); // util-linux is part of every Linux CI image we use
      mkdirSync(join(home, "bottles"), { recursive: true });
      mkdirSync(join(home, "agents"), { recursive: true });
      writeFileSync(join(home, "bottles", "t.md"), '---\nenv:\n  ASKME: "?Type the thing"\n---\n');
      writeFileSync(join(home, "agents", "t.md"), "---\nbottle: t\nworkspace: none\n---\n");
      const agent = ["sh", "-c", 'tty >/dev/null && echo "ISTTY"; [ "$ASKME" = "' + SECRET + '" ] && echo SECRET-OK; read -r line; echo "got:$line"; exit 5'];
      const term = inTerminal(`${process.execPath} ${CLI} up t`, agent, { CLAUDE_BOTTLE_DOOR: door });
      const { waitFor } = term;
      const type = (x: string) => term.type(x);
      try {
        expect(await waitFor(/launch this agent\? \[y\/N\]/, 60_000)).toBe(true);
        type("y\n");
        expect(await waitFor(/Type the thing: /, 30_000)).toBe(true);
        type(`${SECRET}\r`);
        expect(await waitFor(/ISTTY/, 120_000)).toBe(true);
        expect(term.out).toContain("SECRET-OK");
        type("first line to the agent\r");
        expect(await waitFor(/got:first line to the agent/, 20_000)).toBe(true);
        expect(await waitFor(/claude-bottle resume /, 30_000)).toBe(true);
      } finally {
        await term.end();
      }
      const out = term.out;
      // The typed secret was never echoed by the terminal nor printed by us.
      expect(out.includes(SECRET)).toBe(false);
      const slug = /claude-bottle resume (\S+)/.exec(out)![1]!.trim();
      const stateDir = join(home, "state", slug);
      expect(existsSync(join(stateDir, ".preserve"))).toBe(true);
      const files = (readdirSync(stateDir, { recursive: true }) as string[]).map((f) => join(stateDir, f)).filter((f) => statSync(f).isFile());
      for (const f of files) expect(readFileSync(f, "latin1").includes(SECRET)).toBe(false);
    },
    240_000,
  );
}

// Ctrl-C typed after the bottle started but before the agent took the
// terminal (Claude Code takes 2-17 s to its prompt) killed the agent with
// exit 130 and `up` kept the state "for resume", with a hint about a
// 'claude --resume' line nobody printed. The agent here is a shell that
// has not set up its terminal (as Claude Code before its prompt): the
// terminal turns Ctrl-C into SIGINT for it.
dockerTest(
  "Ctrl-C before the agent is ready: exit 130, the bottle and its state gone, no resume hint",
  async () => {
    expect(hasScript).toBe(true);
    mkdirSync(join(home, "bottles"), { recursive: true });
    mkdirSync(join(home, "agents"), { recursive: true });
    writeFileSync(join(home, "bottles", "c.md"), "---\n---\n");
    writeFileSync(join(home, "agents", "c.md"), "---\nbottle: c\nworkspace: none\n---\n");
    const agent = ["sh", "-c", "echo AGENT-STARTING; sleep 60"];
    const term = inTerminal(`${process.execPath} ${CLI} up c --yes; echo EXIT=$?`, agent);
    try {
      expect(await term.waitFor(/AGENT-STARTING/, 120_000)).toBe(true);
      const slug = /starting bottle (c-[0-9a-z]{5})/.exec(term.out)![1]!;
      term.type("\x03");
      expect(await term.waitFor(/EXIT=\d+/, 30_000)).toBe(true);
      const out = term.out;
      expect(out).toContain("EXIT=130");
      expect(out).toContain("interrupted before the agent was ready");
      expect(out).not.toContain("claude-bottle resume");
      expect(out).not.toContain("state kept");
      expect(existsSync(join(home, "state", slug))).toBe(false);
      const left = Bun.spawnSync(["docker", "ps", "-a", "--filter", `name=claude-bottle-${slug}`, "--format", "{{.Names}}"]).stdout.toString().trim();
      expect(left).toBe("");
    } finally {
      await term.end();
    }
  },
  180_000,
);
