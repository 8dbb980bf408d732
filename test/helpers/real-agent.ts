import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLAUDE_CODE_VERSION } from "../../src/backends/docker/constants.ts";
import { platformPackage } from "../../src/backends/docker/image-plan.ts";
import { dockerCliEnv, TEST_BASE_IMAGE } from "./docker.ts";

// The REAL pinned Claude Code for the end-to-end tests: the platform package
// the product stages with `npm pack`, fetched once per machine into a cache
// shared by every test file (and every later run), and handed to the CLI as
// CLAUDE_BOTTLE_AGENT_PACKAGE. The agent image's content hash depends only on
// the Dockerfile, the base image and this tarball, so every test that uses
// it shares one image build: the first test pays for it (~1 min), the rest
// reuse it.

export const PACK_CACHE = process.env.CLAUDE_BOTTLE_TEST_PACK_CACHE ?? join(tmpdir(), "claude-bottle-test-cache", "packs");

let pending: Promise<string> | null = null;

function baseArch(): string {
  const r = Bun.spawnSync(["docker", "image", "inspect", "--format", "{{.Architecture}}", TEST_BASE_IMAGE], { stdout: "pipe", stderr: "pipe" });
  const arch = r.stdout.toString().trim();
  if (r.exitCode !== 0 || !arch) throw new Error(`cannot inspect the test base image ${TEST_BASE_IMAGE}: ${r.stderr.toString().trim()}`);
  return arch;
}

async function fetchPack(): Promise<string> {
  const pkg = platformPackage(baseArch());
  const file = join(PACK_CACHE, `${pkg.replace(/^@/, "").replace("/", "-")}-${CLAUDE_CODE_VERSION}.tgz`);
  if (existsSync(file)) return file;
  if (!Bun.which("npm")) throw new Error("npm is needed to fetch the pinned Claude Code for the end-to-end tests");
  mkdirSync(PACK_CACHE, { recursive: true });
  const tmp = mkdtempSync(join(PACK_CACHE, ".stage-"));
  try {
    const p = Bun.spawn(["npm", "pack", `${pkg}@${CLAUDE_CODE_VERSION}`, "--pack-destination", tmp, "--silent"], {
      cwd: tmp,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    const tgz = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
    if (code !== 0 || !tgz) throw new Error(`npm pack ${pkg}@${CLAUDE_CODE_VERSION} failed (exit ${code}): ${stderr.trim().slice(-500)}`);
    renameSync(join(tmp, tgz), file);
    return file;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function realAgentPackage(): Promise<string> {
  pending ??= fetchPack();
  return pending;
}

// The CLI environment for a bottle with the real Claude Code.
export async function realAgentCliEnv(home: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return dockerCliEnv(home, { CLAUDE_BOTTLE_AGENT_PACKAGE: await realAgentPackage(), ...extra });
}
