import { beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { commands } from "../../src/commands/registry.ts";
import { BIN, ROOT, ensureBuilt, runBin, stripAnsi } from "./binary.ts";

beforeAll(() => ensureBuilt());

test("--version prints the version, a real git commit and the target", async () => {
  const r = await runBin(["--version"]);
  expect(r.code).toBe(0);
  const m = /^claude-bottle (\d+\.\d+\.\d+) \(commit ([0-9a-f]{7,40})(-dirty)?, target (bun-[a-z]+-[a-z0-9]+)\)\n$/.exec(r.stdout);
  expect(m).not.toBeNull();
  expect(m![1]).toBe((await Bun.file(`${ROOT}/package.json`).json()).version);
  // The commit baked in at build time names a commit that exists.
  const exists = Bun.spawnSync(["git", "cat-file", "-e", `${m![2]}^{commit}`], { cwd: ROOT });
  expect(exists.exitCode).toBe(0);
  expect(m![4]).toBe(`bun-${process.platform}-${process.arch}`);
});

test("--help lists every visible command with its one-line description", async () => {
  const r = await runBin(["--help"]);
  expect(r.code).toBe(0);
  const out = stripAnsi(r.stdout);
  let visible = 0;
  for (const [name, load] of Object.entries(commands)) {
    const meta = (await load()).meta as { description?: string; hidden?: boolean };
    if (meta.hidden) {
      expect(out).not.toMatch(new RegExp(`^\\s+${name}\\s`, "m"));
      continue;
    }
    visible++;
    expect(meta.description ?? "").not.toContain("\n");
    expect(out).toMatch(new RegExp(`^\\s+${name}\\s+${meta.description!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "m"));
  }
  expect(visible).toBeGreaterThanOrEqual(3);
});

// The binary prints a usage baked in at build time (BUILD_HELP); from source
// citty renders it. The two must be the same bytes, for every spelling and
// under each variable citty's colour rule reads, so the baked text cannot
// drift from the command table or from citty.
test("the baked-in --help is what citty renders from source, with and without colour", async () => {
  const src = join(ROOT, "src", "cli.ts");
  const fromSource = async (args: string[], env: Record<string, string>) => {
    const p = Bun.spawn([process.execPath, src, ...args], { cwd: ROOT, env: { PATH: process.env.PATH!, ...env }, stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    return out;
  };
  const envs: Record<string, string>[] = [
    {},
    { NO_COLOR: "1" },
    { NO_COLOR: "0" },
    { TERM: "dumb" },
    { TERM: "xterm" },
    { CI: "true" },
    { TEST: "1" },
    { FORCE_COLOR: "1" },
    { FORCE_COLOR: "1", TERM: "xterm" },
    { FORCE_COLOR: "1", NO_COLOR: "0" },
    { FORCE_COLOR: "1", CI: "true" },
    { FORCE_COLOR: "0" },
  ];
  let coloured = 0;
  for (const env of envs) {
    const want = await fromSource(["--help"], env);
    expect(want).toContain("COMMANDS");
    if (want.includes("\x1b[")) coloured++;
    for (const args of [["--help"], ["-h"], ["help"], []]) {
      const r = await runBin(args, { env });
      expect(r.code).toBe(0);
      expect({ args, env, out: r.stdout }).toEqual({ args, env, out: want });
    }
  }
  // Both sides of the rule were exercised.
  expect(coloured).toBe(3);
});

// The rule every output follows (README, "Output"): colour only on a
// terminal, unless FORCE_COLOR forces it into a pipe. runBin reads stdout
// through a pipe, as `claude-bottle --help | less` or a script does.
test("usage text is not coloured into a pipe; FORCE_COLOR colours it", async () => {
  for (const args of [["--help"], ["up", "--help"], ["exec", "--help"]]) {
    const piped = await runBin(args, { env: { PATH: process.env.PATH!, TERM: "xterm-256color" } });
    expect(piped.code).toBe(0);
    expect(piped.stdout).toContain("USAGE");
    expect({ args, escapes: piped.stdout.includes("\x1b[") }).toEqual({ args, escapes: false });
    const forced = await runBin(args, { env: { PATH: process.env.PATH!, TERM: "xterm-256color", FORCE_COLOR: "1" } });
    expect({ args, escapes: forced.stdout.includes("\x1b[") }).toEqual({ args, escapes: true });
    expect(stripAnsi(forced.stdout)).toBe(piped.stdout);
  }
});

// And into a real terminal (a pseudo-terminal from util-linux's script),
// colour it is; NO_COLOR there turns it off.
test("usage text is coloured on a terminal, unless NO_COLOR", async () => {
  expect(Bun.which("script")).not.toBeNull();
  const onTerminal = (extra: Record<string, string>) => {
    const p = Bun.spawnSync(["script", "-qec", `${BIN} --help`, "/dev/null"], { env: { PATH: process.env.PATH!, TERM: "xterm-256color", ...extra }, stdin: "ignore" });
    expect(p.exitCode).toBe(0);
    return p.stdout.toString();
  };
  const tty = onTerminal({});
  expect(tty).toContain("USAGE");
  expect(tty).toContain("\x1b[");
  const plain = onTerminal({ NO_COLOR: "1" });
  expect(plain).toContain("USAGE");
  expect(plain).not.toContain("\x1b[");
});

test("an unknown command is one line and exit 2", async () => {
  const r = await runBin(["frobnicate"]);
  expect(r.code).toBe(2);
  expect(stripAnsi(r.stderr)).toMatch(/^claude-bottle: .*frobnicate.*claude-bottle --help.*\n$/);
});
