import { UserError } from "../../errors.ts";
import { CLAUDE_CODE_PACKAGE, DEFAULT_BASE_IMAGE, ENV_AGENT_PACKAGE, ENV_BASE_IMAGE, IMAGE_REPO } from "./constants.ts";

// Pure decisions about the agent image: which base, which Claude Code
// package, the content hash and tag, and reading build progress lines.

export function resolveBaseImage(specImage: string | undefined, env: Record<string, string | undefined>): string {
  const fromEnv = env[ENV_BASE_IMAGE];
  return specImage ?? (fromEnv && fromEnv.length > 0 ? fromEnv : DEFAULT_BASE_IMAGE);
}

export type AgentPackageChoice = { kind: "pinned" } | { kind: "none" } | { kind: "file"; path: string };

export function agentPackageChoice(env: Record<string, string | undefined>): AgentPackageChoice {
  const v = env[ENV_AGENT_PACKAGE];
  if (v === undefined || v === "") return { kind: "pinned" };
  if (v === "none") return { kind: "none" };
  if (v.startsWith("/") && v.endsWith(".tgz")) return { kind: "file", path: v };
  throw new UserError(`${ENV_AGENT_PACKAGE} must be unset, 'none' (tests only) or an absolute path to a Claude Code platform package .tgz`);
}

// docker's image architecture -> the per-platform package of Claude Code.
// The agent image is Debian-based (glibc), so never a -musl variant.
export function platformPackage(dockerArch: string): string {
  const arch = { amd64: "x64", x86_64: "x64", arm64: "arm64", aarch64: "arm64" }[dockerArch];
  if (!arch) throw new UserError(`no Claude Code build for image architecture ${dockerArch}; use an amd64 or arm64 base image`);
  return `${CLAUDE_CODE_PACKAGE}-linux-${arch}`;
}

export interface HashInput {
  dockerfile: string;
  baseId: string; // the resolved image id, not the tag: a re-pulled tag rebuilds
  agentVersion: string | null;
  context: { name: string; sha256: string }[]; // every file in the build context but the Dockerfile
}

export function imageHash(input: HashInput): string {
  const h = new Bun.CryptoHasher("sha256");
  h.update("claude-bottle-image v1\0");
  h.update(input.dockerfile + "\0");
  h.update(input.baseId + "\0");
  h.update((input.agentVersion ?? "none") + "\0");
  for (const f of [...input.context].sort((a, b) => a.name.localeCompare(b.name))) h.update(`${f.name}\0${f.sha256}\0`);
  return h.digest("hex");
}

export function imageTag(hash: string): string {
  return `${IMAGE_REPO}:${hash.slice(0, 12)}`;
}

// A progress line from `docker build`: the legacy builder prints
// "Step 3/9 : RUN ...", BuildKit (plain output) "#7 [3/9] RUN ...".
export function buildStep(line: string): { n: number; of: number; what: string } | null {
  const legacy = /^Step (\d+)\/(\d+) : (.*)$/.exec(line.trim());
  if (legacy) return { n: Number(legacy[1]), of: Number(legacy[2]), what: legacy[3]!.slice(0, 60) };
  const kit = /^#\d+ \[(?:[\w-]+ )?(\d+)\/(\d+)\] (.*)$/.exec(line.trim());
  if (kit) return { n: Number(kit[1]), of: Number(kit[2]), what: kit[3]!.slice(0, 60) };
  return null;
}
