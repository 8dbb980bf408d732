import { afterAll, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { doorResources, dockerTest, TEST_BASE_IMAGE, testDoors, type TestDoor } from "../../helpers/docker.ts";

// Ctrl-C / SIGTERM to a real `up` at different points of a real Docker
// launch: whatever step is running finishes or fails, then everything made
// so far is removed: no container, no volume, no gate, no state dir. Per
// door: the unix door's bottle starts with its home and its CA and the host
// sees its relay listen (3ef6345: no provisioning exec, so no line after
// "starting container" to signal at); the bridge door's starts a bridge
// container and a volume, and provisioning adds the CA to its trust store.

const CLI = join(import.meta.dir, "..", "..", "..", "src", "cli.ts");
const home = mkdtempSync(join(tmpdir(), "cb-sig-"));
mkdirSync(join(home, "bottles"), { recursive: true });
mkdirSync(join(home, "agents"), { recursive: true });
writeFileSync(join(home, "bottles", "s.md"), "---\nenv:\n  A: plain\n---\n");
writeFileSync(join(home, "agents", "s.md"), "---\nbottle: s\nworkspace: none\n---\n");
afterAll(() => {
  Bun.spawnSync([process.execPath, CLI, "cleanup", "--yes"], { env: { ...process.env, CLAUDE_BOTTLE_HOME: home } });
  rmSync(home, { recursive: true, force: true });
});

// What is left of one launch (its own slug: a case that failed must not
// fail the ones after it).
function stateOf(slug: string): boolean {
  return existsSync(join(home, "state", slug));
}

function gatesOf(slug: string): string {
  const r = Bun.spawnSync(["pgrep", "-f", `gate --state ${home}/state/${slug}`], { stdout: "pipe" });
  return r.stdout.toString().trim();
}

const cases: Record<TestDoor, [string, "SIGINT" | "SIGTERM"][]> = {
  unix: [
    ["starting gate for", "SIGINT"],
    ["starting bottle", "SIGTERM"],
    ["starting container", "SIGINT"],
  ],
  bridge: [
    ["starting bridge container", "SIGINT"],
    ["starting container", "SIGTERM"],
    ["trusting the bottle's CA", "SIGTERM"],
  ],
};

for (const door of testDoors()) for (const [marker, sig] of cases[door]) {
  dockerTest(
    `${door} door: ${sig} at "${marker}" leaves nothing behind`,
    async () => {
      const p = Bun.spawn([process.execPath, CLI, "up", "s", "--yes"], {
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        env: {
          ...process.env,
          CLAUDE_BOTTLE_HOME: home,
          CLAUDE_BOTTLE_BACKEND: "docker",
          CLAUDE_BOTTLE_BASE_IMAGE: TEST_BASE_IMAGE,
          CLAUDE_BOTTLE_AGENT_PACKAGE: "none",
          CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(["sleep", "300"]),
          CLAUDE_BOTTLE_DOOR: door,
        },
      });
      let err = "";
      let slug = "";
      let sent = false;
      // A marker that never comes (the launch changed) fails the case with
      // what was printed instead of at the timeout, leaving no `up` behind:
      // once the agent (sleep 300) runs, stderr stays quiet. (60 s: an
      // image build prints its steps, so a launch is never that quiet.)
      let quiet: ReturnType<typeof setTimeout> | null = null;
      const giveUp = () => {
        if (quiet) clearTimeout(quiet);
        quiet = setTimeout(() => !sent && p.kill("SIGTERM"), 60_000);
      };
      giveUp();
      for await (const c of p.stderr) {
        err += new TextDecoder().decode(c);
        slug ||= /starting gate for (\S+)/.exec(err)?.[1] ?? "";
        if (!sent && err.includes(marker)) {
          p.kill(sig);
          sent = true;
        }
        giveUp();
      }
      clearTimeout(quiet!);
      const code = await p.exited;
      expect(sent ? "" : `no line with "${marker}" in:\n${err}`).toBe("");
      expect(code).toBe(sig === "SIGINT" ? 130 : 143);
      expect(slug).not.toBe("");
      expect(doorResources(slug)).toBe("");
      expect(stateOf(slug)).toBe(false);
      expect(gatesOf(slug)).toBe("");
    },
    120_000,
  );
}
