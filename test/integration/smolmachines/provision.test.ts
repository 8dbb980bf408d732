import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSmolmachinesBackend } from "../../../src/backends/smolmachines/index.ts";
import { sharedWiring } from "../../../src/backends/smolmachines/wiring.ts";
import type { Backend, Bottle, LaunchContext } from "../../../src/backends/types.ts";
import { UserError } from "../../../src/errors.ts";
import { ensureCa } from "../../../src/gate/tls/ca.ts";
import type { PlanJson } from "../../../src/plan/types.ts";
import type { Spec } from "../../../src/manifest/spec.ts";
import { provisionBottle } from "../../../src/provision/provision.ts";
import { paths } from "../../../src/state/paths.ts";
import { TEST_BASE_IMAGE, dockerTest } from "../../helpers/docker.ts";
import { FAKE_DIR, FAKE_SMOLVM, fakeImage, makeCtx, makePlan, makeSpec, makeWorld, standInGate, type World } from "./helpers.ts";

// A smolmachines bottle launched through the backend, wired exactly as the
// registry wires it (sharedWiring), then provisioned as the launcher does
// every bottle (provisionBottle right after launch): the bottle's CA in the
// system store (the CA file, and appended to the system bundle), the prompt
// file, skills, the git insteadOf rewrites, Claude settings.
//
// The fake smolvm's guest sees the HOST filesystem (only /run is private;
// test/fixtures/fake-smolvm/vm.ts), and these tests may run as root. Left
// alone, provisioning would write /home/node, put a CA into this machine's
// trust store and run its ca-certificates hooks. So before the shared
// provisioner runs, the test gives the fake VM its own view, inside the VM's
// private mount namespace (every exec joins it): throwaway directories over
// /home and the CA directories, an empty hooks directory, and everything
// else read-only (the launcher's step order, launch then provision, leaves
// the room for it). The fake maps a single uid, so it cannot switch users: a
// stand-in `runuser` records the user asked for and runs the command as the
// guest's root. Nothing in src/ knows about any of this.

interface Guest {
  dir: string;
  home: string; // appears as /home
  ca: string; // appears as /usr/local/share/ca-certificates
  certs: string; // appears as /etc/ssl/certs
  workspace: string; // appears as /workspace (when the machine has that workdir)
  runuserLog: string;
}

function makeGuest(root: string): Guest {
  const dir = join(root, "guest");
  const g: Guest = { dir, home: join(dir, "home"), ca: join(dir, "ca"), certs: join(dir, "certs"), workspace: join(dir, "workspace"), runuserLog: join(dir, "log", "runuser.log") };
  for (const d of [join(g.home, "node"), g.ca, g.certs, g.workspace, join(dir, "hooks"), join(dir, "log")]) mkdirSync(d, { recursive: true });
  writeFileSync(join(g.home, ".cb-guest"), "");
  writeFileSync(join(g.workspace, ".cb-guest"), "");
  writeFileSync(g.runuserLog, "");
  // runuser -u USER -- ARGV...: log "USER<TAB>ARGV" and run ARGV.
  writeFileSync(
    join(dir, "runuser"),
    [
      "#!/bin/sh",
      '[ "$1" = "-u" ] && [ "$3" = "--" ] || { echo "unexpected runuser argv: $*" >&2; exit 97; }',
      `u="$2"; shift 3`,
      `printf '%s\\t%s\\n' "$u" "$*" >> '${g.runuserLog}'`,
      'exec "$@"',
      "",
    ].join("\n"),
  );
  chmodSync(join(dir, "runuser"), 0o755);
  return g;
}

const SEAL = `set -e
G="$1"
mount --bind "$G" "$G"
mount --bind "$G/home" /home
mount --bind "$G/ca" /usr/local/share/ca-certificates
mount --bind "$G/certs" /etc/ssl/certs
if [ -d /etc/ca-certificates/update.d ]; then mount --bind "$G/hooks" /etc/ca-certificates/update.d; fi
# A workspace machine: the fake gave it a private root with an empty
# /workspace (see the fake's vm.ts); the copy goes to a throwaway dir.
if [ -d /workspace ]; then mount --bind "$G/workspace" /workspace; fi
ru=$(command -v runuser)
mount --bind "$G/runuser" "$ru"
mount --bind /tmp /tmp
mount -o remount,bind,ro /
for m in $(awk '{print $5}' /proc/self/mountinfo); do
  case "$m" in
    /|/proc*|/sys*|/dev*|/run*|/tmp|/home|/workspace|/usr/local/share/ca-certificates|/etc/ssl/certs|/etc/ca-certificates/update.d|"$ru"|"$G"*) ;;
    *) mount -o remount,bind,ro "$m" 2>/dev/null || true ;;
  esac
done
[ -e /home/.cb-guest ] || { echo "/home is not the guest's" >&2; exit 1; }
if [ -d /workspace ]; then [ -e /workspace/.cb-guest ] || { echo "/workspace is not the guest's" >&2; exit 1; }; fi
for d in /etc /usr /usr/local/share /var /root; do
  if touch "$d/.cb-seal-probe" 2>/dev/null; then rm -f "$d/.cb-seal-probe"; echo "$d is writable" >&2; exit 1; fi
done
`;

async function seal(bottle: Bottle, g: Guest): Promise<void> {
  const r = await bottle.run(["sh", "-c", SEAL, "sh", g.dir]);
  if (r.code !== 0) throw new Error(`could not seal the fake guest (exit ${r.code}): ${r.stderr.trim()}`);
}

function sealedBackend(world: World, hostEnv: Record<string, string | undefined>, guest: Guest) {
  const backend = createSmolmachinesBackend({ home: world.home, smolvmBin: FAKE_SMOLVM, hostEnv, readyTimeoutMs: 15_000, ...sharedWiring(hostEnv, world.home) });
  return { backend, launch: (spec: Spec, plan: PlanJson, ctx: LaunchContext) => launchAndProvision(backend, guest, hostEnv, spec, plan, ctx) };
}

// What the launcher does (backend.launch, then provisionBottle), with the
// guest sealed in between.
async function launchAndProvision(backend: Backend, guest: Guest, hostEnv: Record<string, string | undefined>, spec: Spec, plan: PlanJson, ctx: LaunchContext): Promise<Bottle> {
  const bottle = await backend.launch(spec, plan, ctx);
  try {
    await seal(bottle, guest);
    await provisionBottle(bottle, { spec, stateDir: ctx.stateDir, hostEnv, progress: ctx.progress });
  } catch (e) {
    await bottle.remove();
    throw e;
  }
  return bottle;
}

// Where git sends an upstream URL with this gitconfig (its insteadOf
// rewrites applied by git itself), nothing else configured.
function rewritten(gitconfig: string, url: string): string {
  const r = Bun.spawnSync(["git", "-c", `include.path=${gitconfig}`, "ls-remote", "--get-url", url], {
    stdout: "pipe",
    env: { PATH: process.env.PATH ?? "", GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" },
  });
  return r.stdout.toString().trim();
}

// The runuser log as (user, argv) entries; a script argument spans lines.
function runuserEntries(g: Guest): [string, string][] {
  const log = readFileSync(g.runuserLog, "utf8").trim();
  if (!log) return [];
  return log.split(/\n(?=[a-z_][a-z0-9_-]*\t)/).map((e) => {
    const i = e.indexOf("\t");
    return [e.slice(0, i), e.slice(i + 1)];
  });
}

function createArgvs(world: World): string[][] {
  const log = join(world.fakeState, "argv.log");
  if (!existsSync(log)) return [];
  return readFileSync(log, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as string[])
    .filter((a) => a[1] === "create");
}

async function prepareState(world: World, slug: string): Promise<{ stateDir: string; gateSocket: string; gate: ReturnType<typeof standInGate> }> {
  const stateDir = join(world.home, "state", slug);
  mkdirSync(join(stateDir, "sock"), { recursive: true, mode: 0o700 });
  await ensureCa(paths.caDir(stateDir), slug);
  const gateSocket = join(stateDir, "sock", "gate.sock");
  return { stateDir, gateSocket, gate: standInGate(gateSocket) };
}

const HOST_CA = "/usr/local/share/ca-certificates/claude-bottle.crt";
const hostBefore = { ca: existsSync(HOST_CA), nodeHome: existsSync("/home/node") };

let world: World;
const gates: { stop(): void }[] = [];

beforeAll(() => {
  world = makeWorld();
});

afterAll(() => {
  for (const g of gates) g.stop();
  world?.cleanup();
  // The sealing worked: this machine's /home and trust store are as before.
  expect(existsSync(HOST_CA)).toBe(hostBefore.ca);
  expect(existsSync("/home/node")).toBe(hostBefore.nodeHome);
});

describe("a smolmachines bottle gets the shared provisioning", () => {
  test("CA in the guest trust store, prompt, skill, git insteadOf, Claude settings; each as the right user", async () => {
    const slug = "dev-pr0v1";
    const { stateDir, gateSocket, gate } = await prepareState(world, slug);
    gates.push(gate);
    const userHome = join(world.root, "user");
    mkdirSync(join(userHome, ".claude", "skills", "review"), { recursive: true });
    writeFileSync(join(userHome, ".claude", "skills", "review", "SKILL.md"), "# review\nread the diff\n");
    const hostEnv: Record<string, string | undefined> = { ...world.env, HOME: userHome };
    const guest = makeGuest(join(world.root, slug));
    const backend = sealedBackend(world, hostEnv, guest);
    const spec = makeSpec({
      image: fakeImage(world),
      prompt: "Review the open pull request.\n",
      skills: ["review"],
      supervise: true,
      git: [{ name: "web", url: "git@github.com:acme/web.git", allow_force: false, allow_delete: false }] as Spec["git"],
    });
    const steps: string[] = [];
    const ctx = { ...makeCtx(stateDir, gateSocket, { HTTP_PROXY: "http://127.0.0.1:3128" }), progress: (s: string) => void steps.push(s) };
    const bottle = await backend.launch(spec, makePlan(slug, stateDir, spec), ctx);
    expect(steps).toContain("trusting the bottle's CA");

    // The CA: the file NODE_EXTRA_CA_CERTS names, and appended to the
    // system bundle (what OpenSSL, curl, git and SSL_CERT_FILE read).
    const caPem = readFileSync(join(paths.caDir(stateDir), "ca.crt"), "utf8");
    expect(readFileSync(join(guest.ca, "claude-bottle.crt"), "utf8")).toBe(caPem);
    expect(statSync(join(guest.ca, "claude-bottle.crt")).mode & 0o777).toBe(0o644);
    const body = caPem.trim().split("\n").slice(1, -1).join("\n");
    expect(readFileSync(join(guest.certs, "ca-certificates.crt"), "utf8")).toContain(body);

    // The rest, seen both from the host side and from inside the guest.
    const node = join(guest.home, "node");
    expect(readFileSync(join(node, ".claude-bottle", "prompt.md"), "utf8")).toBe(spec.prompt);
    expect((await bottle.run(["cat", "/home/node/.claude-bottle/prompt.md"])).stdout).toBe(spec.prompt);
    expect(readFileSync(join(node, ".claude", "skills", "review", "SKILL.md"), "utf8")).toBe("# review\nread the diff\n");
    expect(rewritten(join(node, ".gitconfig"), "git@github.com:acme/web.git")).toBe("http://git.bottle.internal/web.git");
    expect(JSON.parse(readFileSync(join(node, ".claude", "settings.json"), "utf8")).env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe("1");
    expect(statSync(join(node, ".claude", "settings.json")).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(node, ".claude.json"), "utf8")).mcpServers.supervise.url).toBe("http://supervise.bottle.internal/mcp");

    // Who did what: SmolmachinesBottle turns ExecOptions.user into runuser.
    // The whole home in one exec as the agent, then the CA step as root
    // (this backend starts the machine without the CA in its store).
    const runs = runuserEntries(guest);
    expect(runs.map(([u, argv]) => [u, argv.includes('tar -xf - -C "$1"') ? "home" : argv.includes('cat "$1" >> "$2"') ? "trust" : argv.slice(0, 40)])).toEqual([
      ["node", "home"],
      ["root", "trust"],
    ]);
    expect(runs[0]![1]).toContain("/home/node");
    expect(runs[1]![1]).toContain("/usr/local/share/ca-certificates/claude-bottle.crt");
    // Owned by the agent's uid mapping in the fake; modes as staged.
    expect(statSync(join(node, ".claude-bottle", "prompt.md")).mode & 0o777).toBe(0o644);
    expect(statSync(join(node, ".claude.json")).mode & 0o777).toBe(0o600);
    await bottle.remove();
  }, 60_000);

  test("workspace copy: tracked and untracked-not-ignored files arrive as the agent, the ignored .env stays on the host, origin goes to the gate", async () => {
    const slug = "dev-w0rks";
    const { stateDir, gateSocket, gate } = await prepareState(world, slug);
    gates.push(gate);
    const repo = join(world.root, "repo");
    mkdirSync(join(repo, "src"), { recursive: true });
    const git = (...args: string[]) => {
      const r = Bun.spawnSync(["git", "-C", repo, ...args], { stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
      return r.stdout.toString();
    };
    git("init", "-q", "-b", "main");
    writeFileSync(join(repo, "src", "main.ts"), "export {};\n");
    writeFileSync(join(repo, ".gitignore"), ".env\nbuild/\n");
    writeFileSync(join(repo, ".env"), "API_KEY=sm-dotenv-secret\n");
    mkdirSync(join(repo, "build"));
    writeFileSync(join(repo, "build", "out.js"), "built\n");
    git("add", ".");
    git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "init");
    writeFileSync(join(repo, "notes.txt"), "untracked\n");
    git("remote", "add", "origin", "https://example.com/acme/web.git");

    const guest = makeGuest(join(world.root, slug));
    const backend = sealedBackend(world, world.env, guest);
    const spec = makeSpec({ image: fakeImage(world), workspace: { mode: "copy", path: repo } });
    const bottle = await backend.launch(spec, makePlan(slug, stateDir, spec), makeCtx(stateDir, gateSocket, {}));

    const ws = guest.workspace;
    expect(readFileSync(join(ws, "src", "main.ts"), "utf8")).toBe("export {};\n");
    expect(readFileSync(join(ws, "notes.txt"), "utf8")).toBe("untracked\n");
    expect(existsSync(join(ws, ".env"))).toBe(false);
    expect(existsSync(join(ws, "build"))).toBe(false);
    expect((await bottle.run(["cat", "/workspace/src/main.ts"])).stdout).toBe("export {};\n");
    const inGuest = (args: string[]) => Bun.spawnSync(["git", "-C", ws, ...args], { stdout: "pipe" }).stdout.toString().trim();
    expect(inGuest(["log", "--format=%s"])).toBe("init");
    expect(inGuest(["remote", "get-url", "origin"])).toBe("http://git.bottle.internal/workspace.git");
    // The host repository's origin is the user's.
    expect(git("remote", "get-url", "origin").trim()).toBe("https://example.com/acme/web.git");
    // Unpacked as the agent, in one streamed tar -x; origin set as the agent.
    // (The origin script spans lines in the log: match where entries start.)
    const copies = runuserEntries(guest).filter(([, argv]) => argv.includes('tar -xf - -C "$2"'));
    expect(copies.map(([u]) => u)).toEqual(["node"]);
    expect(copies[0]![1]).toContain("git remote set-url origin");
    await bottle.remove();
  }, 60_000);

  test("no `image:` and no docker on the host: one clear line, and nothing is created", async () => {
    const slug = "dev-n0dkr";
    const { stateDir, gateSocket, gate } = await prepareState(world, slug);
    gates.push(gate);
    // PATH without docker (the fake's directory only).
    const hostEnv: Record<string, string | undefined> = { ...world.env, PATH: FAKE_DIR };
    const { backend } = sealedBackend(world, hostEnv, makeGuest(join(world.root, slug)));
    const spec = makeSpec();
    const before = createArgvs(world).length;
    let err: unknown;
    try {
      await backend.launch(spec, makePlan(slug, stateDir, spec), makeCtx(stateDir, gateSocket, {}));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg).not.toContain("\n");
    expect(msg).toContain("docker is not installed");
    expect(msg).toMatch(/set `image:` in the bottle to a local archive or rootfs path.*or install and start docker on the host/);
    expect(createArgvs(world).length).toBe(before);
  });

  dockerTest(
    "no `image:` with docker on the host: the docker agent image is built, exported once and given to smolvm",
    async () => {
      const slug = "dev-d0ckr";
      const { stateDir, gateSocket, gate } = await prepareState(world, slug);
      gates.push(gate);
      const hostEnv: Record<string, string | undefined> = { ...world.env, CLAUDE_BOTTLE_BASE_IMAGE: TEST_BASE_IMAGE, CLAUDE_BOTTLE_AGENT_PACKAGE: "none" };
      const guest = makeGuest(join(world.root, slug));
      const backend = sealedBackend(world, hostEnv, guest);
      const spec = makeSpec({ git: [{ name: "api", url: "https://github.com/acme/api.git", allow_force: false, allow_delete: false }] as Spec["git"] });
      const bottle = await backend.launch(spec, makePlan(slug, stateDir, spec), makeCtx(stateDir, gateSocket, {}));

      const create = createArgvs(world).find((a) => a.includes(`claude-bottle.slug=${slug}`)) as string[];
      const image = create[create.indexOf("--image") + 1]!;
      expect(image).toMatch(new RegExp(`^${join(world.home, "cache", "smolvm-images")}/[0-9a-f]{64}\\.tar$`));
      // A `docker save` archive of the agent image (the docker backend's tag).
      const manifest = Bun.spawnSync(["tar", "-xOf", image, "manifest.json"]);
      expect(manifest.exitCode).toBe(0);
      const tags = (JSON.parse(manifest.stdout.toString()) as { RepoTags: string[] }[]).flatMap((m) => m.RepoTags);
      expect(tags.some((t) => t.startsWith("claude-bottle/agent:"))).toBe(true);
      // And provisioned like any other bottle.
      expect(rewritten(join(guest.home, "node", ".gitconfig"), "https://github.com/acme/api.git")).toBe("http://git.bottle.internal/api.git");
      expect(readFileSync(join(guest.ca, "claude-bottle.crt"), "utf8")).toBe(readFileSync(join(paths.caDir(stateDir), "ca.crt"), "utf8"));
      await bottle.remove();
    },
    120_000,
  );
});
