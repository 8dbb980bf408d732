import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { paths } from "../../state/paths.ts";
import { GUEST_CA_FILE, SYSTEM_CA_BUNDLE } from "../guest.ts";
import { docker, type Docker } from "./cli.ts";
import type { AgentImage } from "./image.ts";

// The bottle starts trusting its CA: the system bundle it sees is a host
// file, the image's own bundle plus the bottle's CA, bind-mounted read-only
// over SYSTEM_CA_BUNDLE, and the CA alone over GUEST_CA_FILE. Every tool
// that reads the system store (curl, git, openssl, Python's ssl; Node via
// NODE_EXTRA_CA_CERTS) trusts it from the first instant, with nothing run
// in the bottle: regenerating the store there (update-ca-certificates)
// took seconds per launch.

export interface TrustFiles {
  bundle: string; // host path, mounted at SYSTEM_CA_BUNDLE
  ca: string; // host path, mounted at GUEST_CA_FILE
}

export function trustFiles(stateDir: string): TrustFiles {
  const dir = paths.trustDir(stateDir);
  return { bundle: join(dir, "ca-certificates.crt"), ca: join(dir, "claude-bottle.crt") };
}

export const TRUST_TARGETS = { bundle: SYSTEM_CA_BUNDLE, ca: GUEST_CA_FILE } as const;

// The image's bundle, read once per image (by content hash) and cached:
// an image never changes under its hash. null when it cannot be read (no
// bundle or no `cat` in the image, or the engine failed): nothing is cached
// then, and the bottle is started without the mount.
export async function imageBundle(d: Docker, home: string, image: Pick<AgentImage, "tag" | "hash">): Promise<string | null> {
  const dir = join(paths.cacheDir(home), "ca-bundles");
  const file = join(dir, `${image.hash}.crt`);
  if (existsSync(file)) return readFileSync(file, "utf8");
  const r = await docker(d, ["run", "--rm", "--network", "none", "--entrypoint", "cat", image.tag, SYSTEM_CA_BUNDLE]);
  if (r.code !== 0 || !r.stdout.includes("-----BEGIN CERTIFICATE-----")) return null;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, r.stdout);
  renameSync(tmp, file);
  return r.stdout;
}

// Pure: the image's bundle with the CA appended on a line of its own.
export function withCa(bundle: string, caPem: string): string {
  if (bundle.length === 0) return caPem;
  return (bundle.endsWith("\n") ? bundle : bundle + "\n") + caPem;
}

// Writes the bottle's trust files (0644: the container's users read them).
export function writeTrust(stateDir: string, bundle: string, caPem: string): TrustFiles {
  const t = trustFiles(stateDir);
  mkdirSync(paths.trustDir(stateDir), { recursive: true, mode: 0o755 });
  writeFileSync(t.bundle, withCa(bundle, caPem), { mode: 0o644 });
  writeFileSync(t.ca, caPem, { mode: 0o644 });
  return t;
}
