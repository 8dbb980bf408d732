import { afterAll, beforeAll, expect } from "bun:test";
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerCliEnv, dockerTest, runCli } from "../../helpers/docker.ts";

// `up --mount` on Linux with a work tree that does NOT belong to uid 1000
// (the image's `node`): the agent runs as the tree's owner, writes the tree
// (files land on the host owned by that owner, not by root or 1000) and its
// own home, and git works in the mounted repository. The bottle stays
// unprivileged (a plain --user; no capability, no root step).

const UID = 4321;
const GID = 4322;
let home = "";
let repo = "";
let slug = "";

const cli = (args: string[]) => runCli(args, { cwd: repo, env: dockerCliEnv(home, { CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(["sleep", "infinity"]) }) });

const canChown = process.platform === "linux" && process.getuid?.() === 0;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "cb-mount-home-"));
  repo = mkdtempSync(join(tmpdir(), "cb-mount-repo-"));
  mkdirSync(join(home, "agents"), { recursive: true });
  writeFileSync(join(home, "agents", "mnt.md"), "---\nbottle: claude\nworkspace: mount\n---\n");
  const g = (...a: string[]) => Bun.spawnSync(["git", "-C", repo, "-c", "user.name=h", "-c", "user.email=h@h", ...a]);
  g("init", "-q", "-b", "main");
  writeFileSync(join(repo, "a.txt"), "a\n");
  g("add", ".");
  g("commit", "-qm", "a");
  if (canChown) Bun.spawnSync(["chown", "-R", `${UID}:${GID}`, repo]);
});

afterAll(async () => {
  if (slug) await cli(["down", slug]);
  for (const d of [home, repo]) if (d) rmSync(d, { recursive: true, force: true });
});

dockerTest(
  "mount mode with a host owner that is not uid 1000: the agent writes the tree as that owner",
  async () => {
    // Root on Linux is what CI runs as; elsewhere the set-up cannot be made.
    expect(canChown).toBe(true);
    expect(statSync(repo).uid).toBe(UID);
    const up = await cli(["up", "mnt", "-d", "--yes", "--mount"]);
    if (up.code !== 0) throw new Error(`up -d --mount failed (${up.code}): ${up.stderr}`);
    slug = up.stdout.trim().split("\n").pop()!;
    const r = await cli([
      "exec", slug, "--", "sh", "-c",
      'id -u; id -g; echo "$HOME"; echo hi > /workspace/from-agent.txt && touch "$HOME/ok" && test -f "$HOME/.claude.json" && cd /workspace && git -c user.name=a -c user.email=a@a commit -qam x --allow-empty && git log --oneline | wc -l',
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual([String(UID), String(GID), "/home/node", "2"]);
    const st = statSync(join(repo, "from-agent.txt"));
    expect([st.uid, st.gid]).toEqual([UID, GID]);
    // Unprivileged as before: no capabilities at all.
    const caps = await cli(["exec", slug, "--", "sh", "-c", "grep CapEff /proc/self/status"]);
    expect(caps.stdout.trim()).toBe("CapEff:\t0000000000000000");
  },
  240_000,
);
