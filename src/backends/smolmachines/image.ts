import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "../../errors.ts";
import { paths } from "../../state/paths.ts";

// How the agent image reaches a VM that has no NIC.
//
// smolvm pulls a registry image INSIDE the guest on first boot, which needs
// a network, and `machine create` refuses a registry image on a machine with
// no network (src/config.rs::VmRecord::validate_image_fetchable: "supply the
// image locally instead: `docker save IMAGE | smolvm machine create --image -`").
// A CLI `--image` that is a path (`/…`, `./…`, `../…`, or ending in .tar,
// .tar.gz, .tgz) is a local source: a `docker save` archive or an unpacked
// rootfs directory, staged on the HOST at create time into smolvm's
// content-addressed cache and persisted as `local:<sha256>`, so `start`
// needs no pull (src/data/image_source.rs::classify/resolve; src/cli/
// machine.rs CreateCmd::run "Resolve a local image source"). A Smolfile
// `image` is NOT resolved that way (build_create_params takes it as-is), so
// the image always goes on the CLI.
//
// So: a path in `image:` is used as-is; anything else names a local docker
// image, which we `docker save` once into <home>/cache/smolvm-images/<id>.tar,
// keyed by the image ID (a content hash of the image config), and reuse.
// `--from X.smolmachine` (a packed artifact) would also work without a NIC,
// but it conflicts with --smolfile (CreateCmd `conflicts_with_all`), so it
// is not used.

export type ImageSource = { kind: "archive" | "rootfs"; path: string } | { kind: "docker"; ref: string };

// Mirrors smolvm's src/data/image_source.rs::looks_local, so what we treat as
// a path is exactly what smolvm treats as one.
export function classifyImage(image: string, cwd = process.cwd()): ImageSource {
  const local = image.startsWith("/") || image.startsWith("./") || image.startsWith("../") || /\.(tar|tar\.gz|tgz)$/.test(image);
  if (!local) return { kind: "docker", ref: image };
  const path = resolve(cwd, image);
  return { kind: existsSync(path) && statSync(path).isDirectory() ? "rootfs" : "archive", path };
}

export function imageCacheDir(home: string): string {
  return join(paths.cacheDir(home), "smolvm-images");
}

// "sha256:abcd…" -> "<cache>/abcd….tar"
export function cachedArchivePath(home: string, imageId: string): string {
  const hex = imageId.replace(/^sha256:/, "");
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`unexpected docker image id ${JSON.stringify(imageId)}`);
  return join(imageCacheDir(home), `${hex}.tar`);
}

export interface ImageDeps {
  home: string;
  docker?: string; // docker binary, default "docker"
  env?: Record<string, string>;
  progress?: (step: string) => void;
  onExport?: () => void; // a `docker save` is about to start (not called when the archive is cached)
}

// Returns an absolute path for `smolvm machine create --image`.
export async function ensureImageArchive(image: string, deps: ImageDeps): Promise<string> {
  const src = classifyImage(image);
  if (src.kind !== "docker") {
    if (!existsSync(src.path)) throw new UserError(`image ${src.path} does not exist; build it with \`docker save -o ${src.path} <image>\``);
    return src.path;
  }
  const docker = deps.docker ?? "docker";
  const inspect = await run([docker, "image", "inspect", "--format", "{{.Id}}", src.ref], deps.env);
  if (inspect === null) {
    throw new UserError(`the smolmachines backend needs the agent image ${src.ref} as a local archive, and docker is not available to export it; set \`image:\` to a \`docker save\` archive path, or use --backend docker`);
  }
  if (inspect.code !== 0) {
    throw new UserError(`image ${src.ref} is not in the local docker image store; build or pull it with docker first (a VM without a network cannot pull it), or set \`image:\` to a \`docker save\` archive path`);
  }
  const target = cachedArchivePath(deps.home, inspect.stdout.trim());
  if (existsSync(target)) return target;
  mkdirSync(imageCacheDir(deps.home), { recursive: true, mode: 0o700 });
  deps.onExport?.();
  deps.progress?.(`exporting image ${src.ref} for smolvm (once per image version)`);
  const tmp = `${target}.${process.pid}.tmp`;
  const save = await run([docker, "save", "-o", tmp, src.ref], deps.env);
  if (save === null || save.code !== 0) {
    rmSync(tmp, { force: true });
    throw new UserError(`\`docker save ${src.ref}\` failed: ${(save?.stderr ?? "docker not found").trim().split("\n").pop()}`);
  }
  renameSync(tmp, target); // atomic: a cached file is always complete
  return target;
}

async function run(argv: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string } | null> {
  let p: Bun.Subprocess<"ignore", "pipe", "pipe">;
  try {
    p = Bun.spawn(argv, { env: env ?? (process.env as Record<string, string>), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  } catch {
    return null;
  }
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}
