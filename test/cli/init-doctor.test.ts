import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerAvailable } from "../helpers/docker.ts";
import { ensureBuilt, runBin } from "./binary.ts";

const tmp = mkdtempSync(join(tmpdir(), "cb-cli-init-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => ensureBuilt());

describe("init", () => {
  const home = join(tmp, "cb-home");
  const env = { HOME: tmp, CLAUDE_BOTTLE_HOME: home, CLAUDE_BOTTLE_BACKEND: "docker" };
  const bottle = join(home, "bottles/example.md");
  const agent = join(home, "agents/example.md");

  test("writes the examples into the home folder (0700)", async () => {
    const r = await runBin(["init"], { cwd: tmp, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote ${bottle}\nwrote ${agent}\nnext: claude-bottle up example --dry-run\n`);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(readFileSync(bottle, "utf8")).toContain("extends: claude");
    expect(readFileSync(agent, "utf8")).toContain("bottle: example");
  });

  test("the written examples work with up --dry-run", async () => {
    const r = await runBin(["up", "example", "--dry-run", "--format", "json"], { cwd: tmp, env });
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.bottle).toBe("example");
    expect(plan.sources.bottle).toBe(bottle);
  });

  test("never overwrites, and says what it skipped", async () => {
    writeFileSync(agent, "---\nbottle: claude\n---\nmine\n");
    const r = await runBin(["init"], { cwd: tmp, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`skipped ${bottle} (already exists)\nskipped ${agent} (already exists)\nnext: claude-bottle up example --dry-run\n`);
    expect(readFileSync(agent, "utf8")).toBe("---\nbottle: claude\n---\nmine\n");
  });

  test("an unwritable home is one clear line", async () => {
    const r = await runBin(["init"], { cwd: tmp, env: { ...env, CLAUDE_BOTTLE_HOME: "/proc/cb-nope" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^claude-bottle: cannot create \/proc\/cb-nope \(E[A-Z]+\); check permissions or set CLAUDE_BOTTLE_HOME\n$/);
  });
});

describe("doctor", () => {
  test("with nothing but git on PATH: not ready, install pointers, exit 1", async () => {
    const bin = mkdtempSync(join(tmp, "path-"));
    symlinkSync(Bun.which("git")!, join(bin, "git"));
    const r = await runBin(["doctor"], { cwd: tmp, env: { HOME: tmp, PATH: bin } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("docker: not usable\n  - docker is not installed: install Docker Engine (Linux) or Docker Desktop, then start it\n");
    expect(r.stdout).toContain("smolmachines: not usable\n  - smolvm is not on PATH: install smolvm: `brew install smol-machines/tap/smolvm`");
    expect(r.stdout).toContain("git: ok\n");
    expect(r.stdout).toEndWith("not ready: no usable backend; fix one of the problems above\n");
  });

  test("with an empty PATH git is reported missing too", async () => {
    const bin = mkdtempSync(join(tmp, "path-"));
    const r = await runBin(["doctor"], { cwd: tmp, env: { HOME: tmp, PATH: bin } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("git: missing\n  - git is not installed: install git");
  });

  test("on this machine: the exit code agrees with a direct `docker info`", async () => {
    const r = await runBin(["doctor"], { cwd: tmp, env: { HOME: tmp, PATH: process.env.PATH ?? "" } });
    const smolvm = r.stdout.includes("smolmachines: ok");
    const expected = dockerAvailable() || smolvm ? 0 : 1;
    expect(r.code).toBe(expected);
    expect(r.stdout).toContain(dockerAvailable() ? "docker: ok\n" : "docker: not usable\n");
  });
});
