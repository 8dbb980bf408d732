import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerTest } from "../helpers/docker.ts";
import { BIN, ensureBuilt, runBin } from "./binary.ts";

// Exit codes set with process.exitCode, never process.exit(): Bun can drop
// what is still buffered for a piped stdout when a process exits on the spot.
// And one slug check (state/slug.ts) with one exit code for every command.

const tmp = mkdtempSync(join(tmpdir(), "cb-cli-exit-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => ensureBuilt());

describe("piped stdout", () => {
  test("cleanup with a long plan and no terminal to confirm on: every line reaches a slow reader, then one error line and exit 1", async () => {
    const home = join(tmp, "many");
    // 2,500 state dirs left behind (no metadata, no processes): about 250 KB
    // of plan, far more than a pipe holds.
    const agent = "a-rather-long-agent-name-so-that-each-line-of-the-plan-is-long";
    const slugs = Array.from({ length: 2500 }, (_, i) => `${agent}-${i.toString(36).padStart(5, "0")}`);
    for (const s of slugs) mkdirSync(join(home, "state", s), { recursive: true });
    const emptyPath = join(tmp, "no-tools");
    mkdirSync(emptyPath);
    // setsid: no controlling terminal, so the y/N question cannot be asked
    // (also when the test itself runs in one).
    const p = Bun.spawn([Bun.which("setsid")!, "-w", BIN, "cleanup"], {
      env: { PATH: emptyPath, HOME: tmp, CLAUDE_BOTTLE_HOME: home },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    // A slow reader: after the first chunk, wait long enough for the
    // command to reach its error, then take the rest.
    const reader = p.stdout.getReader();
    const chunks: Uint8Array[] = [];
    const first = await reader.read();
    if (!first.done) chunks.push(first.value);
    await Bun.sleep(1000);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      await Bun.sleep(5);
    }
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    const out = Buffer.concat(chunks).toString("utf8");
    expect(out.length).toBeGreaterThan(200_000);
    const lines = out.split("\n");
    expect(lines[0]).toBe("will remove:");
    expect(lines.filter((l) => l.startsWith("  state     state of ")).length).toBe(slugs.length);
    expect(out).toEndWith(`  state     state of ${slugs.at(-1)} (no metadata)\n`);
    expect(stderr).toBe("claude-bottle: no terminal to confirm on; pass --yes to remove them without asking\n");
    expect(code).toBe(1);
  }, 60_000);
});

// The y/N question of each command, with no terminal to ask on: the error
// says what --yes would do for that command.
dockerTest("up with no terminal to confirm on: the plan, then one line saying --yes launches, and nothing started", async () => {
  const home = join(tmp, "up-home");
  const p = Bun.spawn([Bun.which("setsid")!, "-w", BIN, "up"], {
    cwd: tmp,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp, CLAUDE_BOTTLE_HOME: home, CLAUDE_BOTTLE_BACKEND: "docker" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  expect(stderr).toMatch(/^agent +default/m);
  expect(stderr).toEndWith("\nclaude-bottle: no terminal to confirm on; pass --yes to launch without asking\n");
  expect(stdout).toBe("");
  expect(code).toBe(1);
  expect(existsSync(join(home, "state"))).toBe(false);
}, 60_000);

describe("one slug check, one exit code (2) for a malformed slug", () => {
  const home = join(tmp, "slugs");
  const env = { HOME: tmp, CLAUDE_BOTTLE_HOME: home, PATH: join(tmp, "no-tools") };
  const refused = ["../etc", "demo", "Demo-abcde", "demo-abcd", "1demo-abcde", "demo_x-abcde", `${"a".repeat(76)}-abcde`];
  const commands: [string, (slug: string) => string[]][] = [
    ["allow", (s) => ["allow", s, "example.com"]],
    ["deny", (s) => ["deny", s, "example.com"]],
    ["logs", (s) => ["logs", s]],
    ["down", (s) => ["down", s]],
    ["attach", (s) => ["attach", s]],
    ["exec", (s) => ["exec", s, "--", "true"]],
    ["resume", (s) => ["resume", s]],
  ];

  for (const [name, argv] of commands) {
    test(`${name} refuses every malformed slug with exit 2 and one line`, async () => {
      mkdirSync(join(tmp, "no-tools"), { recursive: true });
      for (const bad of refused) {
        const r = await runBin(argv(bad), { cwd: tmp, env });
        expect({ bad, code: r.code }).toEqual({ bad, code: 2 });
        expect(r.stderr).toMatch(/^claude-bottle: '.*' is not a bottle slug \(like agent-ab12c\); 'claude-bottle ls' lists them\n$/);
        expect(r.stdout).toBe("");
      }
    });
  }

  test("a well-formed slug passes the check: allow edits the bottle's policy (exit 0); a well-formed unknown slug is 'no bottle' (exit 1)", async () => {
    mkdirSync(join(tmp, "no-tools"), { recursive: true });
    const slug = "dev-2-ab12c";
    const dir = join(home, "state", slug);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "policy.json"), JSON.stringify({ version: 1, slug, routes: [], git: [], supervise: false, placeholders: {} }));
    const ok = await runBin(["allow", slug, "example.com"], { cwd: tmp, env });
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toBe("allowed example.com; takes effect when the bottle's gate starts\n");
    expect(ok.code).toBe(0);
    expect(JSON.parse(await Bun.file(join(dir, "policy.json")).text()).routes.map((r: { host: string }) => r.host)).toEqual(["example.com"]);
    const unknown = await runBin(["logs", "dev-zz999"], { cwd: tmp, env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^claude-bottle: no bottle 'dev-zz999'/);
  });
});
