import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dockerTest } from "../helpers/docker.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PlanJson } from "../../src/plan/types.ts";
import { ensureBuilt, runBin } from "./binary.ts";
import { copyFixture, snapshot } from "./fixture.ts";

// `up --dry-run` through the compiled binary, on the fixture manifests.
const PLANTED_HOST = "host-PLANTED-9f3b7c21e5";
const PLANTED_LITERAL = "lit-PLANTED-secret-0xC0FFEE"; // written in fixtures/manifests/basic/home/bottles/dev.md
const PLANTED_GH = "ghp_PLANTEDtoken000000000000000000000000";

const fx = copyFixture("basic");
const dirs: string[] = [fx.dir];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
beforeAll(() => {
  ensureBuilt();
  mkdirSync(fx.userHome, { recursive: true });
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: fx.userHome,
    CLAUDE_BOTTLE_HOME: fx.home,
    CLAUDE_BOTTLE_BACKEND: "docker",
    FIXTURE_HOST_SECRET: PLANTED_HOST,
    FIXTURE_GH_TOKEN: PLANTED_GH,
    CLAUDE_CODE_OAUTH_TOKEN: "sk-ant-oat01-PLANTEDoauth",
    ...extra,
  };
}

describe("JSON plan", () => {
  test("a home agent on a home bottle", async () => {
    const r = await runBin(["up", "coder", "--dry-run", "--format", "json"], { cwd: fx.repo, env: env() });
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as PlanJson;
    expect(plan.version).toBe(1);
    expect(plan.agent).toBe("coder");
    expect(plan.bottle).toBe("dev");
    expect(plan.backend).toBe("docker");
    expect(plan.slug).toMatch(/^coder-[0-9a-z]{5}$/);
    expect(plan.state_dir).toBe(join(fx.home, "state", plan.slug));
    expect(plan.sources).toEqual({ agent: join(fx.home, "agents/coder.md"), bottle: join(fx.home, "bottles/dev.md") });
    expect(plan.env).toEqual([
      { name: "GIT_AUTHOR_NAME", mode: "literal", host_var: null },
      { name: "PLANTED_LITERAL", mode: "literal", host_var: null },
      { name: "FROM_HOST", mode: "host", host_var: "FIXTURE_HOST_SECRET" },
      { name: "ASKED", mode: "prompt", host_var: null },
    ]);
    expect(plan.skills).toEqual(["refactor", "tests"]);
    expect(plan.git).toEqual([{ name: "project", upstream: "git@github.com:fixture/project.git", branches: ["agent/*"], allow_force: false, allow_delete: false }]);
    expect(plan.egress.map((e) => e.host)).toEqual([
      "api.github.com",
      "*.example.org",
      "api.anthropic.com",
      "mcp-proxy.anthropic.com",
      "statsig.anthropic.com",
      "sentry.io",
      "claude.ai",
      "platform.claude.com",
      "downloads.claude.ai",
      "raw.githubusercontent.com",
    ]);
    expect(plan.egress[0]).toEqual({
      host: "api.github.com",
      ports: null,
      methods: ["GET", "POST"],
      paths: ["/repos/", "/user"],
      tls: "terminate",
      dlp: "on",
      auth: { header: "Authorization", scheme: "token", token_ref: "FIXTURE_GH_TOKEN" },
      allow_private: false,
      git_push: null,
    });
    expect(plan.egress[2]!.auth).toEqual({ header: "Authorization", scheme: "Bearer", token_ref: "CLAUDE_CODE_OAUTH_TOKEN" });
    expect(plan.resources).toEqual({ cpus: 2, memory: 2048 });
    expect(plan.workspace).toEqual({ mode: "none", path: null });
  });

  test("a repo agent; --mount; a workspace copy inside a git repo", async () => {
    const r = await runBin(["up", "reviewer", "--dry-run", "--format", "json", "--mount"], { cwd: fx.repo, env: env() });
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as PlanJson;
    expect(plan.sources.agent).toBe(join(fx.repo, ".claude-bottle/agents/reviewer.md"));
    expect(plan.workspace).toEqual({ mode: "mount", path: fx.repo });

    const g = mkdtempSync(join(tmpdir(), "cb-cli-git-"));
    dirs.push(g);
    expect(Bun.spawnSync(["git", "init", "-q", g]).exitCode).toBe(0);
    mkdirSync(join(g, "sub"));
    const r2 = await runBin(["up", "coder", "--dry-run", "--format=json"], { cwd: join(g, "sub"), env: env() });
    expect(r2.code).toBe(0);
    expect((JSON.parse(r2.stdout) as PlanJson).workspace).toEqual({ mode: "copy", path: g });
  });

  test("warnings go to stderr and into the plan, stdout stays pure JSON", async () => {
    const r = await runBin(["up", "coder", "--dry-run", "--format", "json"], { cwd: fx.repo, env: env({ FIXTURE_GH_TOKEN: "" }) });
    const plan = JSON.parse(r.stdout) as PlanJson;
    const bottlesWarning = `ignoring ${join(fx.repo, ".claude-bottle/bottles")}: bottles are only read from ${join(fx.home, "bottles")}`;
    expect(plan.warnings!.some((w) => w.startsWith(bottlesWarning))).toBe(true);
    expect(r.stderr).toContain(`claude-bottle: warning: ${bottlesWarning}`);
    expect(r.stderr).toContain("Bad_Name.md: manifest file names must look like my-name.md");
  });
});

describe("text plan", () => {
  test("shows what the user confirms", async () => {
    const r = await runBin(["up", "coder", "--dry-run"], { cwd: fx.repo, env: env() });
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe(`agent     coder  (${join(fx.home, "agents/coder.md")})`);
    expect(lines[2]).toBe("backend   docker");
    expect(lines[3]).toMatch(/^slug      coder-[0-9a-z]{5}$/);
    expect(r.stdout).toContain("env       GIT_AUTHOR_NAME (literal)\n");
    expect(r.stdout).toContain("          FROM_HOST (from host $FIXTURE_HOST_SECRET)\n");
    expect(r.stdout).toContain("          ASKED (asked at launch)\n");
    expect(r.stdout).toContain("git       project -> git@github.com:fixture/project.git\n");
    expect(r.stdout).toContain("egress    api.github.com GET,POST /repos/,/user auth:token\n");
    expect(r.stdout).toContain("          api.anthropic.com auth:Bearer dlp:off\n");
    expect(r.stdout).toContain("workspace none\n");
  });
});

describe("secrets never appear", () => {
  const cases: [string, string[]][] = [
    ["text", ["up", "coder", "--dry-run"]],
    ["json", ["up", "coder", "--dry-run", "--format", "json"]],
    ["text, repo agent", ["up", "reviewer", "--dry-run"]],
    ["json, debug", ["up", "coder", "--dry-run", "--format", "json", "--debug"]],
  ];
  for (const [name, args] of cases) {
    test(name, async () => {
      const r = await runBin(args, { cwd: fx.repo, env: env() });
      expect(r.code).toBe(0);
      for (const secret of [PLANTED_HOST, PLANTED_LITERAL, PLANTED_GH, "PLANTEDoauth"]) {
        expect(r.stdout).not.toContain(secret);
        expect(r.stderr).not.toContain(secret);
      }
    });
  }
  test("nor in the error for a missing host variable", async () => {
    const r = await runBin(["up", "coder", "--dry-run", "--debug"], { cwd: fx.repo, env: { ...env(), FIXTURE_HOST_SECRET: "" } });
    // Empty counts as set; remove it entirely instead.
    const e = env();
    delete (e as Record<string, string | undefined>).FIXTURE_HOST_SECRET;
    const r2 = await runBin(["up", "coder", "--dry-run"], { cwd: fx.repo, env: e });
    expect(r.code).toBe(0);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toBe(
      `claude-bottle: env FROM_HOST (${join(fx.home, "bottles/dev.md")}) copies \${FIXTURE_HOST_SECRET} from the host, but FIXTURE_HOST_SECRET is not set; export it before running claude-bottle, or change the entry\n`,
    );
    expect(r2.stdout + r2.stderr).not.toContain(PLANTED_LITERAL);
    expect(r2.stdout + r2.stderr).not.toContain(PLANTED_GH);
  });
});

describe("a dry run creates nothing", () => {
  test("in an empty directory with no home: the embedded default works and nothing is written", async () => {
    const empty = mkdtempSync(join(tmpdir(), "cb-cli-empty-"));
    dirs.push(empty);
    mkdirSync(join(empty, "cwd"));
    mkdirSync(join(empty, "home"));
    const before = snapshot(empty);
    const r = await runBin(["up", "--dry-run", "--format", "json"], {
      cwd: join(empty, "cwd"),
      env: { HOME: join(empty, "home"), CLAUDE_BOTTLE_HOME: join(empty, "cb-home"), TMPDIR: join(empty, "home") },
    });
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as PlanJson;
    expect(plan.agent).toBe("default");
    expect(plan.bottle).toBe("claude");
    expect(plan.egress.find((e) => e.host === "api.anthropic.com")?.dlp).toBe("off");
    expect(snapshot(empty)).toEqual(before);
  });
  test("with the fixture home: home and repo are unchanged", async () => {
    const before = [snapshot(fx.home), snapshot(fx.repo), snapshot(fx.userHome)];
    const r = await runBin(["up", "coder", "--dry-run"], { cwd: fx.repo, env: env() });
    expect(r.code).toBe(0);
    expect([snapshot(fx.home), snapshot(fx.repo), snapshot(fx.userHome)]).toEqual(before);
  });
  // Auto (no backend named) as well as docker named: the engine is asked on
  // the socket the docker CLI would use, not with a `docker info` run.
  dockerTest("docker chosen by auto or by name: the engine is asked on its socket, the docker CLI is not run", async () => {
    const shim = mkdtempSync(join(tmpdir(), "cb-cli-shim-"));
    dirs.push(shim);
    const log = join(shim, "calls.log");
    const real = Bun.which("docker")!;
    writeFileSync(join(shim, "docker"), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
    for (const backend of [undefined, "docker"]) {
      const e: Record<string, string> = { ...env(), PATH: `${shim}:${process.env.PATH}` };
      if (backend === undefined) delete e.CLAUDE_BOTTLE_BACKEND;
      const r = await runBin(["up", "coder", "--dry-run", "--format", "json"], { cwd: fx.repo, env: e });
      expect(r.code).toBe(0);
      const plan = JSON.parse(r.stdout) as PlanJson;
      expect(plan.backend).toBe("docker");
      // The door came from what the engine said about itself.
      expect(plan.door?.why).toMatch(/engine/);
      expect(existsSync(log) ? readFileSync(log, "utf8") : "").toBe("");
    }
  });

  test("no usable backend: the plan still prints, backend docker, with a warning", async () => {
    const bin = mkdtempSync(join(tmpdir(), "cb-cli-path-"));
    dirs.push(bin);
    const e = { ...env(), PATH: bin };
    delete (e as Record<string, string | undefined>).CLAUDE_BOTTLE_BACKEND;
    const r = await runBin(["up", "coder", "--dry-run", "--format", "json"], { cwd: fx.repo, env: e });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as PlanJson).backend).toBe("docker");
    expect(r.stderr).toContain("claude-bottle: warning: no usable backend (docker is not installed; install Docker Engine");
  });
});

describe("errors: one line, non-zero, no stack", () => {
  async function fails(args: string[], extra: Record<string, string> = {}, cwd = fx.repo) {
    const r = await runBin(args, { cwd, env: { ...env(), ...extra } });
    expect(r.code).not.toBe(0);
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toStartWith("claude-bottle: ");
    expect(r.stderr).not.toContain("    at ");
    return r;
  }
  test("an unknown agent lists the agents", async () => {
    const r = await fails(["up", "nope", "--dry-run"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("agent 'nope' does not exist; agents: coder, default, reviewer, sneaky");
  });
  test("a repo agent cannot reach a repo bottle", async () => {
    const r = await fails(["up", "sneaky", "--dry-run"]);
    expect(r.stderr).toContain("uses bottle 'evil', which does not exist; bottles: claude, dev");
  });
  test("--format json without --dry-run, and a bad --format", async () => {
    expect((await fails(["up", "coder", "--format", "json"])).stderr).toBe("claude-bottle: --format json needs --dry-run\n");
    expect((await fails(["up", "coder", "--dry-run", "--format", "yaml"])).code).toBe(2);
  });
  test("an unknown --backend", async () => {
    const r = await fails(["up", "--dry-run", "--backend", "podman"]);
    expect(r.stderr).toBe("claude-bottle: --backend: unknown backend 'podman'; use one of: docker, smolmachines\n");
  });
  test("a bad agent name", async () => {
    const r = await fails(["up", "../../etc", "--dry-run"]);
    expect(r.stderr).toBe(`claude-bottle: "../../etc" is not an agent name; names look like my-agent (a-z, 0-9, -)\n`);
  });
  test("without --dry-run and without a usable backend, up refuses before doing anything", async () => {
    const bin = mkdtempSync(join(tmpdir(), "cb-cli-path-"));
    dirs.push(bin);
    symlinkSync(Bun.which("git")!, join(bin, "git"));
    const before = snapshot(fx.home);
    const r = await fails(["up", "coder"], { PATH: bin });
    expect(r.stderr).toStartWith("claude-bottle: backend docker is not usable (docker is not installed;");
    expect(snapshot(fx.home)).toEqual(before);
  });
  test("an invalid bottle file", async () => {
    const f = copyFixture("basic");
    dirs.push(f.dir);
    writeFileSync(join(f.home, "bottles", "dev.md"), "---\nextends: claude\negress:\n  - host: a.com\n    metods: [GET]\n---\n");
    const r = await fails(["up", "coder", "--dry-run"], { CLAUDE_BOTTLE_HOME: f.home }, f.repo);
    expect(r.stderr).toBe(
      `claude-bottle: ${join(f.home, "bottles/dev.md")}: egress[0].metods: unknown key; did you mean "methods"? allowed keys: host, ports, methods, paths, tls, dlp, auth, allow_private, git_push\n`,
    );
  });
});
