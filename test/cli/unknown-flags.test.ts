import { beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unknownFlag } from "../../src/commands/flags.ts";
import { ensureBuilt, runBin } from "./binary.ts";

beforeAll(() => ensureBuilt());

// Seen as a new user: `up -d --yes --dry-rn` launched a bottle (citty hands
// an unknown flag to the command, which never looks at it). A flag the
// command does not declare is a usage error: one line, exit 2, nothing done.
test("a mistyped flag is a usage error with a suggestion, and nothing is started", async () => {
  const home = mkdtempSync(join(tmpdir(), "cb-flags-"));
  const cwd = mkdtempSync(join(tmpdir(), "cb-flags-cwd-"));
  try {
    const env = { HOME: home, CLAUDE_BOTTLE_HOME: join(home, ".claude-bottle"), DOCKER_HOST: "unix:///nonexistent/docker.sock" };
    const r = await runBin(["up", "-d", "--yes", "--dry-rn"], { cwd, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("claude-bottle: unknown flag --dry-rn for 'up'; did you mean --dry-run? (see 'claude-bottle up --help')\n");
    expect(r.stdout).toBe("");
    for (const [args, flag] of [
      [["ls", "--jsn"], "--jsn"],
      [["down", "--al"], "--al"],
      [["exec", "agent-abcde", "--yes", "--", "true"], "--yes"],
      [["up", "-x"], "-x"],
    ] as const) {
      const x = await runBin([...args], { cwd, env });
      expect({ args, code: x.code, line: x.stderr.split("\n").length }).toEqual({ args, code: 2, line: 2 });
      expect(x.stderr).toContain(`unknown flag ${flag} for '${args[0]}'`);
    }
    // Declared flags in every spelling still work.
    for (const args of [["up", "--dry-run", "--no-mount"], ["up", "-n", "--door=unix"], ["up", "--format", "json", "-n"], ["ls", "--json"]]) {
      const ok = await runBin(args, { cwd, env });
      expect({ args, code: ok.code, err: ok.stderr.includes("unknown flag") }).toEqual({ args, code: 0, err: false });
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
    rmSync(cwd, { recursive: true, force: true });
  }
});

test("an unknown command's error line carries no colour codes", async () => {
  const r = await runBin(["frobnicate"], { env: { TERM: "xterm-256color" } });
  expect(r.code).toBe(2);
  expect(r.stderr).toBe("claude-bottle: Unknown command frobnicate; run 'claude-bottle --help' for the list\n");
});

test("unknownFlag: names, camelCase, aliases, --no-<boolean>, groups, values that look like flags", () => {
  const args = {
    slug: { type: "positional" },
    "dry-run": { type: "boolean", alias: "n" },
    detach: { type: "boolean", alias: "d" },
    note: { type: "string" },
    door: { type: "string", alias: "D" },
  } as const;
  const ok = (t: string[]) => expect({ t, r: unknownFlag("x", args, t) }).toEqual({ t, r: null });
  ok(["s", "--dry-run", "--dryRun", "-n", "-dn", "--no-detach", "--note", "-x looks like a flag", "--door=unix", "-dD", "bridge"]);
  ok(["-", "positional"]);
  expect(unknownFlag("x", args, ["--no-note"])).toContain("unknown flag --no-note");
  expect(unknownFlag("x", args, ["-dq"])).toContain("unknown flag -q");
  expect(unknownFlag("x", args, ["--detach=1", "--dettach"])).toContain("did you mean --detach?");
  expect(unknownFlag("x", {}, ["--a"])).toContain("it takes no flags");
});
