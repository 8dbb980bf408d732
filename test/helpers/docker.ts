import { test } from "bun:test";
import { join } from "node:path";

// Integration tests use a real Docker engine. On a laptop without one they
// are skipped; in CI (CLAUDE_BOTTLE_REQUIRE_DOCKER=1) a missing engine is a
// failure, so a broken CI set-up can never pass by skipping everything.
let cached: boolean | undefined;

export function dockerAvailable(): boolean {
  if (cached !== undefined) return cached;
  try {
    const r = Bun.spawnSync(["docker", "info", "--format", "{{.ServerVersion}}"], { stdout: "pipe", stderr: "pipe" });
    cached = r.exitCode === 0;
  } catch {
    cached = false;
  }
  return cached;
}

export const dockerRequired = process.env.CLAUDE_BOTTLE_REQUIRE_DOCKER === "1";

export const TEST_BASE_IMAGE = process.env.CLAUDE_BOTTLE_TEST_BASE_IMAGE ?? "claude-bottle-test/base:bookworm";

// `dockerTest(name, fn)` runs fn when Docker is usable; otherwise it either
// fails (CI) or registers a skipped test that says why.
export function dockerTest(name: string, fn: () => Promise<void> | void, timeout?: number): void {
  if (dockerAvailable()) {
    test(name, fn, timeout);
  } else if (dockerRequired) {
    test(name, () => {
      throw new Error("Docker is required (CLAUDE_BOTTLE_REQUIRE_DOCKER=1) but `docker info` failed");
    });
  } else {
    test.skipIf(true)(`${name} (skipped: no Docker engine)`, () => {});
  }
}

// The environment for running the CLI against the test engine: the caller's
// env without any CLAUDE_BOTTLE_* (a developer's own settings must never
// leak into a test), a throwaway home, the local base image, and no Claude
// Code in the agent image (tests must not depend on the npm registry).
export function dockerCliEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("CLAUDE_BOTTLE_")) e[k] = v;
  return {
    ...e,
    CLAUDE_BOTTLE_HOME: home,
    CLAUDE_BOTTLE_BACKEND: "docker",
    CLAUDE_BOTTLE_BASE_IMAGE: TEST_BASE_IMAGE,
    CLAUDE_BOTTLE_AGENT_PACKAGE: "none",
    ...extra,
  };
}

// The CLI from source, as a user runs it in a shell: its output and code.
export const CLI = join(import.meta.dir, "..", "..", "src", "cli.ts");

export async function runCli(
  args: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs?: number },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([process.execPath, CLI, ...args], { cwd: opts.cwd, env: opts.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = opts.timeoutMs ? setTimeout(() => p.kill(), opts.timeoutMs) : null;
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (timer) clearTimeout(timer);
  return { code, stdout, stderr };
}

// The doors the docker lifecycle tests run with (src/backends/door.ts): both
// by default, so Linux CI exercises the bridge door that Docker Desktop,
// OrbStack and colima get; CLAUDE_BOTTLE_TEST_DOORS=unix (or bridge) runs
// one, for a quicker local pass.
export type TestDoor = "unix" | "bridge";
export function testDoors(): TestDoor[] {
  const v = process.env.CLAUDE_BOTTLE_TEST_DOORS;
  if (!v) return ["unix", "bridge"];
  return v.split(",").map((d) => {
    if (d !== "unix" && d !== "bridge") throw new Error(`CLAUDE_BOTTLE_TEST_DOORS: unknown door ${d}`);
    return d;
  });
}

// The bridge door's docker resources of a slug: its bridge container and
// its volume (what down and cleanup must leave none of).
export function doorResources(slug: string): string {
  const c = Bun.spawnSync(["docker", "ps", "-a", "-q", "--filter", `label=claude-bottle.slug=${slug}`], { stdout: "pipe" }).stdout.toString().trim();
  const v = Bun.spawnSync(["docker", "volume", "ls", "-q", "--filter", `label=claude-bottle.slug=${slug}`], { stdout: "pipe" }).stdout.toString().trim();
  return [c, v].filter(Boolean).join("\n");
}

// What the agent does in the workspace tests: commit on a new branch and push
// it to origin (the host repository through the gate); prints the commit.
export const PUSH_FEAT_FROM_BOTTLE = ["sh", "-c", "cd /workspace && git config user.email agent@bottle && git config user.name agent && git checkout -q -b feat && echo x > f && git add f && git commit -qm f && git push -q origin feat && git rev-parse HEAD"];
