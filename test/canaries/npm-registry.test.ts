import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerAvailable, dockerCliEnv, runCli } from "../helpers/docker.ts";
import { canariesEnabled, canaryName, OPT_IN } from "./enabled.ts";

// Upstream regression: the real npm registry, through a real bottle and its
// gate (TLS terminated, the bottle trusting only its own CA), serves a
// scoped package to the real npm client. The registry is the one the host's
// npm is configured with (`npm config get registry`), so no host name is
// written here and a mirror works too.

const skip = !canariesEnabled ? OPT_IN : !Bun.which("npm") ? "npm is not on PATH" : !dockerAvailable() ? "no Docker engine" : undefined;

describe.skipIf(skip !== undefined)(canaryName("npm install of a scoped package from the real registry, through the gate", skip), () => {
  const home = mkdtempSync(join(tmpdir(), "cb-canary-npm-"));
  let slug = "";
  const env = dockerCliEnv(home);
  const cli = (args: string[]) => runCli(args, { cwd: home, env });
  afterAll(async () => {
    if (slug) await cli(["down", slug]);
    rmSync(home, { recursive: true, force: true });
  });

  test("npm install @types/node in a bottle", async () => {
    const reg = Bun.spawnSync(["npm", "config", "get", "registry"], { stdout: "pipe" }).stdout.toString().trim();
    const registry = new URL(reg);
    expect(registry.protocol).toBe("https:");
    mkdirSync(join(home, "bottles"), { recursive: true });
    mkdirSync(join(home, "agents"), { recursive: true });
    writeFileSync(join(home, "bottles", "npmc.md"), `---\nenv:\n  NPM_CONFIG_REGISTRY: "${registry.href}"\negress:\n  - host: "${registry.hostname}"\n    methods: [GET, HEAD]\n---\n`);
    writeFileSync(join(home, "agents", "npmc.md"), "---\nbottle: npmc\nworkspace: none\n---\n");
    const up = await cli(["up", "npmc", "-d", "--yes"]);
    if (up.code !== 0) throw new Error(`up -d failed: ${up.stderr}`);
    slug = up.stdout.trim().split("\n").pop()!;
    const r = await cli(["exec", slug, "--", "sh", "-c", "mkdir -p /tmp/a && cd /tmp/a && npm install --no-audit --no-fund @types/node 2>&1 && test -f node_modules/@types/node/package.json && echo INSTALLED"]);
    if (r.code !== 0) throw new Error(`npm install failed in the bottle:\n${r.stdout}${r.stderr}\n${(await cli(["logs", slug])).stdout}`);
    expect(r.stdout).toContain("INSTALLED");
    const logs = await cli(["logs", slug, "--json"]);
    const lines = logs.stdout.trim().split("\n").map((l) => JSON.parse(l) as { host: string; path: string | null; decision: string });
    expect(lines.some((l) => l.host === registry.hostname && l.path?.toLowerCase().startsWith("/@types%2fnode") && l.decision === "allow")).toBe(true);
  }, 600_000);
});
