import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../errors.ts";
import { paths } from "../../state/paths.ts";
import { docker, dockerMessage, spawnDocker, type Docker } from "./cli.ts";
import { CLAUDE_CODE_VERSION, ENV_AGENT_PACKAGE, LABEL_IMAGE_HASH } from "./constants.ts";
import { AGENT_PACKAGE_FILE, renderDockerfile } from "./dockerfile.ts";
import { agentPackageChoice, buildStep, imageHash, imageTag, platformPackage, resolveBaseImage } from "./image-plan.ts";
import { cliSocket, inspectImageOnSocket, type ImageFacts } from "./api.ts";
import { packFacts, readImageRecord, writeImageRecord } from "./image-record.ts";
import type { Steps } from "./progress.ts";

// The agent image, built on demand and reused while its content hash
// (Dockerfile + base image id + Claude Code version + build context) is the
// same. Claude Code is staged on the HOST (npm pack of the pinned platform
// package, cached under <home>/cache/packs) and unpacked by ADD in the build:
// the build itself needs no network.

export interface EnsureImageOptions {
  docker: Docker;
  home: string;
  specImage?: string;
  hostEnv: Record<string, string | undefined>;
  steps: Steps;
  verbose: boolean;
  err: (s: string) => void; // where the full build log goes (verbose or failure)
  onBuild: () => void; // a build is about to start (not called when the cached image is reused)
}

export interface AgentImage {
  tag: string;
  hash: string;
  built: boolean; // false: the cached image was reused
  base: string;
  agentVersion: string | null;
}

async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  const reader = Bun.file(path).stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    h.update(value);
  }
  return h.digest("hex");
}

async function baseImageFacts(d: Docker, base: string, steps: Steps): Promise<{ id: string; arch: string }> {
  const inspect = () => docker(d, ["image", "inspect", "--format", "{{.Id}} {{.Architecture}}", base]);
  let r = await inspect();
  if (r.code !== 0) {
    steps.step(`pulling base image ${base}`);
    const pull = await docker(d, ["pull", base]);
    if (pull.code !== 0) {
      throw new UserError(
        `base image ${base} is not available locally and could not be pulled (${dockerMessage(pull.stderr, pull.code)}); set \`image:\` in the bottle or CLAUDE_BOTTLE_BASE_IMAGE to a local image`,
      );
    }
    r = await inspect();
    if (r.code !== 0) throw new UserError(`docker could not inspect base image ${base}: ${dockerMessage(r.stderr, r.code)}`);
  }
  const [id, arch] = r.stdout.trim().split(" ");
  return { id: id ?? "", arch: arch ?? "" };
}

// Reads the package.json inside an npm pack tarball.
async function packManifest(tgz: string): Promise<{ name?: string; version?: string }> {
  const p = Bun.spawn(["tar", "-xzOf", tgz, "package/package.json"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  if (code !== 0) throw new UserError(`${tgz} is not an npm package tarball (no package/package.json)`);
  try {
    return JSON.parse(out) as { name?: string; version?: string };
  } catch {
    throw new UserError(`${tgz} has an unreadable package/package.json`);
  }
}

// npm pack of the pinned platform package into <home>/cache/packs, once.
// npm verifies the tarball against the registry's integrity record and uses
// the user's own npm configuration (registry, CA file, proxy).
async function stagePinned(home: string, pkg: string, hostEnv: Record<string, string | undefined>, steps: Steps): Promise<string> {
  const dir = join(paths.cacheDir(home), "packs");
  const file = join(dir, `${pkg.replace(/^@/, "").replace("/", "-")}-${CLAUDE_CODE_VERSION}.tgz`);
  if (existsSync(file)) return file;
  const npm = Bun.which("npm", { PATH: hostEnv.PATH ?? "" });
  if (!npm) {
    throw new UserError(
      `npm is needed once to fetch Claude Code ${CLAUDE_CODE_VERSION} for the agent image; install npm, or set ${ENV_AGENT_PACKAGE} to a downloaded ${pkg}-${CLAUDE_CODE_VERSION}.tgz`,
    );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  steps.step(`fetching ${pkg}@${CLAUDE_CODE_VERSION} (once)`);
  const tmp = mkdtempSync(join(dir, ".stage-"));
  try {
    const p = Bun.spawn([npm, "pack", `${pkg}@${CLAUDE_CODE_VERSION}`, "--pack-destination", tmp, "--silent"], {
      cwd: tmp,
      env: hostEnv as Record<string, string>,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    const tgz = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
    if (code !== 0 || !tgz) {
      const last = stderr.split("\n").filter((l) => l.trim() && !/^npm warn/i.test(l)).at(-1) ?? `exit ${code}`;
      throw new UserError(`npm pack ${pkg}@${CLAUDE_CODE_VERSION} failed (${last.trim().slice(0, 200)}); check npm's registry access or set ${ENV_AGENT_PACKAGE}`);
    }
    const m = await packManifest(join(tmp, tgz));
    if (m.name !== pkg || m.version !== CLAUDE_CODE_VERSION) throw new UserError(`npm pack returned ${m.name}@${m.version}, expected ${pkg}@${CLAUDE_CODE_VERSION}`);
    renameSync(join(tmp, tgz), file);
    return file;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function agentPackageFile(opts: EnsureImageOptions, arch: string): Promise<{ path: string; version: string; sha256: string } | null> {
  const choice = agentPackageChoice(opts.hostEnv);
  if (choice.kind === "none") return null;
  const pkg = platformPackage(arch);
  const facts = (path: string) => packFacts(opts.home, path, async () => ({ sha256: await sha256File(path), ...(await packManifest(path)) }));
  if (choice.kind === "file") {
    if (!existsSync(choice.path)) throw new UserError(`${ENV_AGENT_PACKAGE} points at ${choice.path}, which does not exist`);
    const m = await facts(choice.path);
    if (m.name !== pkg) throw new UserError(`${ENV_AGENT_PACKAGE}: ${choice.path} is ${m.name}, but this image needs ${pkg}`);
    return { path: choice.path, version: m.version ?? "unknown", sha256: m.sha256 };
  }
  const path = await stagePinned(opts.home, pkg, opts.hostEnv, opts.steps);
  return { path, version: CLAUDE_CODE_VERSION, sha256: (await facts(path)).sha256 };
}

// The content hash of the agent image for a base image id: the Dockerfile,
// the base, the Claude Code version and the build context.
async function expectedImage(opts: EnsureImageOptions, base: string, baseId: string, arch: string) {
  const agent = await agentPackageFile(opts, arch);
  const dockerfile = renderDockerfile({ base, agentPackage: agent ? AGENT_PACKAGE_FILE : null });
  const context = agent ? [{ name: AGENT_PACKAGE_FILE, sha256: agent.sha256 }] : [];
  const hash = imageHash({ dockerfile, baseId, agentVersion: agent?.version ?? null, context });
  return { agent, dockerfile, hash, tag: imageTag(hash) };
}

// The common case in one engine call: the base and the agent image recorded
// for it, inspected together; up to date when the base is the one recorded
// and the image carries the hash the current inputs give.
async function quickCheck(opts: EnsureImageOptions, base: string): Promise<AgentImage | null> {
  const rec = readImageRecord(opts.home, base);
  if (!rec) return null;
  const facts = await inspectTwo(opts.docker, base, rec.tag);
  if (!facts) return null;
  const [b, agent] = facts;
  if (b.id !== rec.baseId || b.arch !== rec.arch || agent.labels[LABEL_IMAGE_HASH] !== rec.hash) return null;
  const want = await expectedImage(opts, base, rec.baseId, rec.arch);
  if (want.hash !== rec.hash) return null;
  return { tag: rec.tag, hash: rec.hash, base, agentVersion: want.agent?.version ?? null, built: false };
}

// Both images' facts, or null when either is missing: on the engine's
// socket where the CLI would use it (api.ts), else in one CLI run.
async function inspectTwo(d: Docker, a: string, b: string): Promise<[ImageFacts, ImageFacts] | null> {
  const socket = cliSocket(d.env());
  if (socket !== null) {
    const [x, y] = await Promise.all([inspectImageOnSocket(socket, a), inspectImageOnSocket(socket, b)]);
    if (x !== undefined && y !== undefined) return x && y ? [x, y] : null;
  }
  // `range` rather than `index`: an imported base has no labels at all,
  // and indexing that nil map fails the whole command.
  const label = `{{range $k, $v := .Config.Labels}}{{if eq $k "${LABEL_IMAGE_HASH}"}}{{$v}}{{end}}{{end}}`;
  const r = await docker(d, ["image", "inspect", "--format", `{{.Id}} {{.Architecture}} ${label}`, a, b]);
  const lines = r.stdout.trim().split("\n");
  if (r.code !== 0 || lines.length !== 2) return null;
  const fact = (line: string): ImageFacts => {
    const [id, arch, hash] = line.split(" ");
    return { id: id ?? "", arch: arch ?? "", labels: hash ? { [LABEL_IMAGE_HASH]: hash } : {} };
  };
  return [fact(lines[0]!), fact(lines[1]!)];
}

async function cachedHash(d: Docker, tag: string): Promise<string | null> {
  const r = await docker(d, ["image", "inspect", "--format", `{{index .Config.Labels "${LABEL_IMAGE_HASH}"}}`, tag]);
  return r.code === 0 ? r.stdout.trim() : null;
}

export async function ensureAgentImage(opts: EnsureImageOptions): Promise<AgentImage> {
  const d = opts.docker;
  const base = resolveBaseImage(opts.specImage, opts.hostEnv);
  opts.steps.step(`agent image: checking ${base}`);
  const quick = await quickCheck(opts, base);
  if (quick) {
    opts.steps.step(`agent image ${quick.tag} is up to date`);
    opts.steps.done();
    return quick;
  }
  const facts = await baseImageFacts(d, base, opts.steps);
  const { agent, dockerfile, hash, tag } = await expectedImage(opts, base, facts.id, facts.arch);
  const result = { tag, hash, base, agentVersion: agent?.version ?? null };
  const remember = () => writeImageRecord(opts.home, base, { baseId: facts.id, arch: facts.arch, tag, hash });
  if ((await cachedHash(d, tag)) === hash) {
    remember();
    opts.steps.step(`agent image ${tag} is up to date`);
    opts.steps.done();
    return { ...result, built: false };
  }

  // The build context: the Dockerfile and the package tarball (hard-linked
  // when possible: it is large).
  const ctxRoot = join(paths.cacheDir(opts.home), "build");
  mkdirSync(ctxRoot, { recursive: true, mode: 0o700 });
  const ctxDir = mkdtempSync(join(ctxRoot, "ctx-"));
  const log: string[] = [];
  try {
    writeFileSync(join(ctxDir, "Dockerfile"), dockerfile);
    if (agent) {
      try {
        linkSync(agent.path, join(ctxDir, AGENT_PACKAGE_FILE));
      } catch {
        copyFileSync(agent.path, join(ctxDir, AGENT_PACKAGE_FILE));
      }
    }
    // The current step ends before the caller's explanation is printed, so a
    // spinner never shares its line with it.
    opts.steps.done();
    opts.onBuild();
    opts.steps.step(`building agent image ${tag}`);
    const p = spawnDocker(d, ["build", "--label", `${LABEL_IMAGE_HASH}=${hash}`, "-t", tag, ctxDir], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      let buf = "";
      const reader = stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          log.push(line);
          if (opts.verbose) opts.err(line);
          const s = buildStep(line);
          if (s) opts.steps.detail(`step ${s.n}/${s.of} ${s.what}`);
        }
      }
      if (buf) log.push(buf);
    };
    const [, , code] = await Promise.all([pump(p.stdout as ReadableStream<Uint8Array>), pump(p.stderr as ReadableStream<Uint8Array>), p.exited]);
    opts.steps.done();
    if (code !== 0) {
      const logFile = join(paths.cacheDir(opts.home), "last-build.log");
      writeFileSync(logFile, log.join("\n") + "\n", { mode: 0o600 });
      if (!opts.verbose) for (const l of log) opts.err(l);
      throw new UserError(`building the agent image from ${base} failed: ${dockerMessage(log.join("\n"), code)} (full log: ${logFile})`);
    }
    remember();
    return { ...result, built: true };
  } finally {
    opts.steps.done();
    rmSync(ctxDir, { recursive: true, force: true });
  }
}
