import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { preparePlan } from "../../../src/plan/prepare.ts";
import { findGitRoot } from "../../../src/state/home.ts";
import type { BackendProbe } from "../../../src/backends/select.ts";

const tmp = mkdtempSync(join(tmpdir(), "cb-prepare-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const none: BackendProbe = { usable: false, problems: [{ what: "docker is not installed", fix: "install it" }] };
const ok: BackendProbe = { usable: true, problems: [] };

describe("preparePlan", () => {
  const base = { agent: "default", mount: false, cwd: tmp, env: { CLAUDE_BOTTLE_HOME: join(tmp, "home") } };
  test("dry run with no usable backend: docker plus a warning", () => {
    const p = preparePlan({ ...base, dryRun: true, probe: () => none });
    expect(p.plan.backend).toBe("docker");
    expect(p.warnings).toContain("no usable backend (docker is not installed; install it); run 'claude-bottle doctor' for details (the plan shows docker)");
    expect(p.warnings).toContain(
      "neither CLAUDE_CODE_OAUTH_TOKEN nor ANTHROPIC_API_KEY is set: Claude Code will have no credential (create one with 'claude setup-token')",
    );
  });
  test("a launch with no usable backend is refused", () => {
    expect(() => preparePlan({ ...base, dryRun: false, probe: () => none })).toThrow(
      "no usable backend (docker is not installed; install it); run 'claude-bottle doctor' for details",
    );
  });
  test("auto picks smolmachines when usable; slug and state dir follow the home", () => {
    const p = preparePlan({ ...base, dryRun: true, env: { ...base.env, CLAUDE_CODE_OAUTH_TOKEN: "t" }, probe: () => ok });
    expect(p.plan.backend).toBe("smolmachines");
    expect(p.plan.state_dir).toBe(join(tmp, "home", "state", p.plan.slug));
    expect(p.warnings).toEqual([]);
  });
  test("a token_ref missing on the host is a warning naming it", () => {
    mkdirSync(join(tmp, "home/bottles"), { recursive: true });
    mkdirSync(join(tmp, "home/agents"), { recursive: true });
    writeFileSync(join(tmp, "home/bottles/gh.md"), "---\negress:\n  - host: api.github.com\n    auth: {token_ref: GH_TOKEN}\n---\n");
    writeFileSync(join(tmp, "home/agents/gh.md"), "---\nbottle: gh\n---\n");
    const p = preparePlan({ ...base, agent: "gh", dryRun: true, env: { ...base.env, ANTHROPIC_API_KEY: "k" }, probe: () => ok });
    expect(p.warnings).toEqual(["GH_TOKEN is not set on the host; set it before launching: the gate needs it to add that credential"]);
  });
});

test("a mount workspace is a warning that names the folder and what the bottle can do to git there; a copy is not", () => {
  const repo = join(tmp, "repo");
  mkdirSync(join(repo, ".git"), { recursive: true });
  const env = { CLAUDE_BOTTLE_HOME: join(tmp, "home2"), ANTHROPIC_API_KEY: "k" };
  const mounted = preparePlan({ agent: "default", mount: true, cwd: repo, env, dryRun: true, probe: () => ok });
  expect(mounted.plan.workspace).toEqual({ mode: "mount", path: repo });
  expect(mounted.warnings).toEqual([expect.stringContaining(`workspace mount: the bottle can write ${repo}, its .git included`)]);
  expect(mounted.plan.warnings).toEqual(mounted.warnings);
  const copied = preparePlan({ agent: "default", mount: false, cwd: repo, env, dryRun: true, probe: () => ok });
  expect(copied.plan.workspace.mode).toBe("copy");
  expect(copied.warnings).toEqual([]);
});

test("findGitRoot walks up to the folder holding .git", () => {
  const repo = join(tmp, "repo");
  mkdirSync(join(repo, ".git"), { recursive: true });
  mkdirSync(join(repo, "a/b"), { recursive: true });
  expect(findGitRoot(join(repo, "a/b"))).toBe(repo);
  // A worktree or submodule has a .git FILE; that counts too.
  mkdirSync(join(tmp, "wt/x"), { recursive: true });
  writeFileSync(join(tmp, "wt/.git"), "gitdir: /elsewhere\n");
  expect(findGitRoot(join(tmp, "wt/x"))).toBe(join(tmp, "wt"));
});
