import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { canariesEnabled, canaryName, OPT_IN } from "./enabled.ts";

// Upstream regression: the @anthropic-ai/claude-code version the agent image
// pins must still be on the registry, install (its postinstall picks a
// per-platform native binary from optional dependencies) and start.

const root = join(import.meta.dir, "..", "..");
const PIN = /@anthropic-ai\/claude-code@(\d+\.\d+\.\d+)/;

// The pin lives with the docker image definition; find it rather than repeat
// it here, so this canary always tests what ships. An override env var lets a
// maintainer try a candidate version before bumping the pin.
export function findPinnedClaudeCode(dir: string = join(root, "src")): { version: string; file: string } | undefined {
  const override = process.env.CLAUDE_BOTTLE_CANARY_CLAUDE_CODE_VERSION;
  if (override) return { version: override, file: "CLAUDE_BOTTLE_CANARY_CLAUDE_CODE_VERSION" };
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) stack.push(p);
      else {
        const m = PIN.exec(readFileSync(p, "utf8"));
        if (m) return { version: m[1]!, file: relative(root, p) };
      }
    }
  }
  return undefined;
}

const skip = canariesEnabled ? (Bun.which("npm") ? undefined : "npm is not on PATH") : OPT_IN;

describe.skipIf(skip !== undefined)(canaryName("pinned @anthropic-ai/claude-code installs and starts", skip), () => {
  const work = mkdtempSync(join(tmpdir(), "cb-canary-cc-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  // npm keeps the user's environment (its npmrc may carry a CA file); the
  // agent runs with a throwaway HOME and no update or telemetry traffic.
  const agentEnv = { PATH: process.env.PATH, HOME: work, DISABLE_AUTOUPDATER: "1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" };
  async function run(cmd: string[], cwd: string, env: Record<string, string | undefined> = process.env) {
    const p = Bun.spawn(cmd, { cwd, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { stdout, stderr, code };
  }

  test("the source tree pins an exact version", () => {
    const pin = findPinnedClaudeCode();
    if (!pin) throw new Error("no '@anthropic-ai/claude-code@X.Y.Z' pin found under src/; the agent image must pin one");
    expect(pin.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test("npm pack fetches the pinned release and it is that version", async () => {
    const pin = findPinnedClaudeCode();
    if (!pin) throw new Error("no pin found under src/");
    const r = await run(["npm", "pack", `@anthropic-ai/claude-code@${pin.version}`, "--pack-destination", work, "--silent"], work);
    expect(r.code).toBe(0);
    const tgz = readdirSync(work).find((f) => f.endsWith(".tgz"));
    expect(tgz).toBeDefined();
    const x = await run(["tar", "-xzf", tgz!], work);
    expect(x.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(work, "package", "package.json"), "utf8")) as { version: string; bin?: unknown };
    expect(manifest.version).toBe(pin.version);
    expect(manifest.bin).toBeDefined();
  }, 180_000);

  test("npm install of the pinned release gives a `claude` that prints its version", async () => {
    const pin = findPinnedClaudeCode();
    if (!pin) throw new Error("no pin found under src/");
    const prefix = join(work, "install");
    const i = await run(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", `@anthropic-ai/claude-code@${pin.version}`], work);
    if (i.code !== 0) throw new Error(`npm install failed (exit ${i.code}):\n${i.stderr}`);
    const v = await run([join(prefix, "node_modules", ".bin", "claude"), "--version"], work, agentEnv);
    expect(v.stderr).toBe("");
    expect(v.code).toBe(0);
    expect(v.stdout).toContain(pin.version);
  }, 300_000);
});
