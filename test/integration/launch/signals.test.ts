import { afterAll, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { doorResources, dockerTest, TEST_BASE_IMAGE, testDoors, type TestDoor } from "../../helpers/docker.ts";

// Ctrl-C / SIGTERM to a real `up` at different points of a real Docker
// launch: whatever step is running finishes or fails, then everything made
// so far is removed: no container, no volume, no gate, no state dir. Per
// door: the unix door's bottle starts trusting its CA (no trust step to
// interrupt); the bridge door's starts a bridge container and a volume, and
// provisioning adds the CA to its trust store.

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

function labelled(): string {
  const out: string[] = [];
  for (const slug of existsSync(join(home, "state")) ? readdirSync(join(home, "state")) : []) out.push(slug);
  return out.join(",");
}

function gatesOf(): string {
  const r = Bun.spawnSync(["pgrep", "-f", `gate --state ${home}/`], { stdout: "pipe" });
  return r.stdout.toString().trim();
}

const cases: Record<TestDoor, [string, "SIGINT" | "SIGTERM"][]> = {
  unix: [
    ["starting gate for", "SIGINT"],
    ["starting bottle", "SIGTERM"],
    ["starting container", "SIGINT"],
    // The bottle's one provisioning exec (the CA needs no step of its own
    // any more: the bottle starts with it in its trust store).
    ["provisioning the bottle", "SIGTERM"],
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
      for await (const c of p.stderr) {
        err += new TextDecoder().decode(c);
        slug ||= /starting gate for (\S+)/.exec(err)?.[1] ?? "";
        if (!sent && err.includes(marker)) {
          p.kill(sig);
          sent = true;
        }
      }
      const code = await p.exited;
      expect(sent).toBe(true);
      expect(code).toBe(sig === "SIGINT" ? 130 : 143);
      expect(slug).not.toBe("");
      expect(doorResources(slug)).toBe("");
      expect(labelled()).toBe("");
      expect(gatesOf()).toBe("");
    },
    120_000,
  );
}
