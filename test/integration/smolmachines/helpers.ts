import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { LaunchContext } from "../../../src/backends/types.ts";
import type { PlanJson } from "../../../src/plan/types.ts";
import type { Spec } from "../../../src/manifest/spec.ts";
import { buildPlan } from "../../../src/plan/build.ts";

// Shared set-up for the smolmachines integration tests: the fake smolvm on
// PATH with its own state dir, a throwaway claude-bottle home, and a
// stand-in gate (a real HTTP server on a real unix socket).

export const FAKE_DIR = resolve(import.meta.dir, "../../fixtures/fake-smolvm");
export const FAKE_SMOLVM = join(FAKE_DIR, "smolvm");

export interface World {
  root: string;
  home: string;
  fakeState: string;
  env: Record<string, string>;
  cleanup(): void;
}

export function makeWorld(): World {
  const root = mkdtempSync(join(tmpdir(), "cb-smol-"));
  const home = join(root, "home");
  const fakeState = join(root, "fake-smolvm");
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PATH: `${FAKE_DIR}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    FAKE_SMOLVM_STATE: fakeState,
    CLAUDE_BOTTLE_HOME: home,
  };
  return {
    root,
    home,
    fakeState,
    env,
    cleanup() {
      // Stop every fake VM this world started, then remove the files.
      const ls = Bun.spawnSync([FAKE_SMOLVM, "machine", "ls", "--json"], { env });
      try {
        for (const m of JSON.parse(ls.stdout.toString()) as { name: string }[]) {
          Bun.spawnSync([FAKE_SMOLVM, "machine", "delete", "--name", m.name, "--force"], { env });
        }
      } catch {
        // nothing to stop
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function fake(world: World, args: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync([FAKE_SMOLVM, ...args], { env: world.env, stdin: input !== undefined ? Buffer.from(input) : "ignore" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

// A stand-in gate: HTTP on a unix socket that answers every request with
// "gate-ok <method> <url>" and counts them.
export function standInGate(path: string): { requests: string[]; stop(): void } {
  const requests: string[] = [];
  const server = Bun.serve({
    unix: path,
    fetch(req) {
      requests.push(`${req.method} ${req.url}`);
      return new Response(`gate-ok ${req.method} ${req.url}`);
    },
  });
  return { requests, stop: () => server.stop(true) };
}

export function fakeImage(world: World): string {
  const p = join(world.root, "agent.tar");
  writeFileSync(p, "not really an image: the fake records it, it does not boot it\n");
  return p;
}

export function makeSpec(over: Partial<Spec> = {}): Spec {
  return {
    agent: "dev",
    bottle: "default",
    sources: { agent: "<embedded>", bottle: "<embedded>" },
    prompt: "",
    env: [],
    egress: [],
    git: [],
    skills: [],
    resources: { cpus: 2, memory: 1024 },
    supervise: false,
    workspace: { mode: "none", path: null },
    ...over,
  };
}

// The plan as `up` builds it (the real buildPlan), for a smolmachines bottle.
export function makePlan(slug: string, stateDir: string, spec: Spec): PlanJson {
  return buildPlan(spec, { backend: "smolmachines", slug, stateDir, warnings: [] });
}

export function makeCtx(stateDir: string, gateSocket: string, env: Record<string, string>, secretEnvNames: string[] = []): LaunchContext {
  return { stateDir, gateSocket, env, secretEnvNames, verbose: false, progress: () => {}, imageBuild: () => {} };
}
