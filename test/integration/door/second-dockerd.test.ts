import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerAvailable, dockerCliEnv, dockerRequired, PUSH_FEAT_FROM_BOTTLE, TEST_BASE_IMAGE } from "../../helpers/docker.ts";
import { secondDockerdProblem, startSecondDockerd, type SecondDockerd } from "../../helpers/second-dockerd.ts";

// The bridge door where it is needed, on Linux CI: an engine that cannot see
// this machine's files (test/helpers/second-dockerd.ts: a dockerd in its
// own mount namespace with its own /tmp and data root), reached with
// DOCKER_HOST, as Docker Desktop's engine in its VM is reached through its
// context. Everything of ours lives under our /tmp: the state dir with the
// gate's socket, the CA, the repository. The engine sees none of it.
// Nothing forces a door here: `up` must find out from the engine itself.

const CLI = join(import.meta.dir, "..", "..", "..", "src", "cli.ts");
const problem = secondDockerdProblem();
const runnable = dockerAvailable() && problem === null;
const SECRET = `planted-dotenv-${crypto.randomUUID()}`;

let engine: SecondDockerd | null = null;
let home = "";
let repo = "";
let upstream: ReturnType<typeof Bun.serve> | null = null;
let hits: string[] = [];
const slugs: string[] = [];

function env(extra: Record<string, string> = {}): Record<string, string> {
  const e = dockerCliEnv(home, { DOCKER_HOST: engine!.host, CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(["sleep", "infinity"]), ...extra });
  delete e.CLAUDE_BOTTLE_DOOR; // auto: the engine decides
  return e;
}

async function cli(args: string[], extra: Record<string, string> = {}) {
  const p = Bun.spawn([process.execPath, CLI, ...args], { cwd: repo, env: env(extra), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

// On the second engine: everything labelled with a slug.
function onEngine(slug: string): string {
  const e = { ...(process.env as Record<string, string>), DOCKER_HOST: engine!.host };
  const c = Bun.spawnSync(["docker", "ps", "-aq", "--filter", `label=claude-bottle.slug=${slug}`], { stdout: "pipe", env: e }).stdout.toString().trim();
  const v = Bun.spawnSync(["docker", "volume", "ls", "-q", "--filter", `label=claude-bottle.slug=${slug}`], { stdout: "pipe", env: e }).stdout.toString().trim();
  return [c, v].filter(Boolean).join("\n");
}

function git(...args: string[]): string {
  const r = Bun.spawnSync(["git", "-C", repo, ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

describe.if(runnable)("an engine that cannot see our files (a second dockerd, its own mount namespace)", () => {
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "cb-dind-home-"));
    repo = mkdtempSync(join(tmpdir(), "cb-dind-repo-"));
    upstream = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => {
        hits.push(new URL(req.url).pathname);
        return new Response("hello from the host\n");
      },
    });
    mkdirSync(join(home, "bottles"), { recursive: true });
    mkdirSync(join(home, "agents"), { recursive: true });
    writeFileSync(join(home, "bottles", "far.md"), `---\negress:\n  - host: 127.0.0.1\n    ports: [${upstream.port}]\n    allow_private: true\n---\n`);
    writeFileSync(join(home, "agents", "far.md"), "---\nbottle: far\nworkspace: copy\n---\n\nAn agent on an engine that cannot see our files.\n");
    git("init", "-q", "-b", "main");
    writeFileSync(join(repo, "README.md"), "hello from the host repo\n");
    writeFileSync(join(repo, ".gitignore"), ".env\n");
    writeFileSync(join(repo, ".env"), `API_KEY=${SECRET}\n`);
    git("add", ".");
    git("-c", "user.name=host", "-c", "user.email=host@example.com", "commit", "-q", "-m", "init");
    const t0 = Date.now();
    engine = await startSecondDockerd(TEST_BASE_IMAGE);
    process.stderr.write(`second dockerd up with the base image in ${Date.now() - t0} ms\n`);
  }, 180_000);

  afterAll(async () => {
    if (engine) {
      for (const slug of slugs) await cli(["down", slug]);
      await cli(["cleanup", "--yes"]);
      const t0 = Date.now();
      await engine.stop();
      process.stderr.write(`second dockerd stopped in ${Date.now() - t0} ms\n`);
    }
    upstream?.stop(true);
    for (const d of [home, repo]) if (d) rmSync(d, { recursive: true, force: true });
  }, 120_000);

  test("the engine does not see our /tmp; up chooses the bridge door from what it reports, and says why", async () => {
    // A bind mount of one of our paths: the engine has no such path.
    const e = { ...(process.env as Record<string, string>), DOCKER_HOST: engine!.host };
    const bind = Bun.spawnSync(["docker", "run", "--rm", "--network", "none", "--mount", `type=bind,source=${repo},target=/x`, TEST_BASE_IMAGE, "true"], { stderr: "pipe", env: e });
    expect(bind.exitCode).not.toBe(0);
    expect(bind.stderr.toString()).toContain(`bind source path does not exist: ${repo}`);

    const plan = await cli(["up", "far", "--dry-run", "--format", "json"]);
    expect(plan.code).toBe(0);
    const door = JSON.parse(plan.stdout).door;
    expect(door).toMatchObject({ kind: "bridge", source: "auto", gate_listen: engine!.address, add_host: `host.docker.internal:${engine!.address}` });
    expect(door.why).toContain("is not on this machine's filesystem");
    expect((await cli(["doctor"])).stdout).toContain("door: bridge (auto): the engine's data root /tmp/data is not on this machine's filesystem");
  }, 120_000);

  test("the unix door forced there cannot work: up says why and leaves nothing", async () => {
    const r = await cli(["up", "far", "-d", "--yes", "--door", "unix"]);
    expect(r.stderr).toContain("--door unix with the engine at");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bind source path does not exist/);
    const slug = /starting gate for (\S+)/.exec(r.stderr)?.[1] ?? "";
    expect(slug).not.toBe("");
    expect(onEngine(slug)).toBe("");
    expect(existsSync(join(home, "state", slug))).toBe(false);
  }, 240_000);

  test("end to end through the bridge door: the gate, the relay, the workspace copy, a push landing on the host", async () => {
    const up = await cli(["up", "far", "-d", "--yes"]);
    if (up.code !== 0) throw new Error(`up -d failed (${up.code}): ${up.stderr}`);
    const slug = up.stdout.trim().split("\n").pop()!;
    slugs.push(slug);
    expect(up.stderr).toContain(`starting bridge container claude-bottle-${slug}-bridge`);

    // The gate on the host, through the relay, the volume and the bridge.
    const ok = await cli(["exec", slug, "--", "curl", "-s", "-m", "10", "--noproxy", "", `http://127.0.0.1:${upstream!.port}/far`]);
    expect(ok.stdout).toBe("hello from the host\n");
    expect(hits).toContain("/far");
    const denied = await cli(["exec", slug, "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10", "http://example.com/"]);
    expect(denied.stdout).toBe("403");

    // The copy went in through the engine's API, not a mount: tracked files
    // yes, the ignored .env no, and no host path is mounted at all.
    expect((await cli(["exec", slug, "--", "cat", "/workspace/README.md"])).stdout).toBe("hello from the host repo\n");
    expect((await cli(["exec", slug, "--", "test", "-e", "/workspace/.env"])).code).not.toBe(0);
    const mounts = (await cli(["exec", slug, "--", "sh", "-c", "grep -c ' /workspace \\| /run/claude-bottle ' /proc/self/mounts; grep ' /run/claude-bottle ' /proc/self/mounts"])).stdout;
    expect(mounts.split("\n")[0]).toBe("1"); // the volume only; /workspace is the container's own
    expect(mounts).toMatch(/ \/run\/claude-bottle \S+ ro[, ]/);

    // A push from the bottle lands on the host, under the bottle's name.
    const push = await cli(["exec", slug, "--", ...PUSH_FEAT_FROM_BOTTLE]);
    expect(push.code).toBe(0);
    const head = push.stdout.trim().split("\n").pop()!;
    expect(git("rev-parse", `refs/heads/bottle/${slug}/feat`).trim()).toBe(head);
    expect(git("show", `refs/heads/bottle/${slug}/feat:f`)).toBe("x\n");

    // ls, then down: nothing of it left on that engine.
    const row = (JSON.parse((await cli(["ls", "--json"])).stdout) as { slug: string; status: string }[]).find((x) => x.slug === slug);
    expect(row?.status).toBe("running");
    expect(onEngine(slug)).not.toBe("");
    expect((await cli(["down", slug])).code).toBe(0);
    expect(onEngine(slug)).toBe("");
    expect(existsSync(join(home, "state", slug))).toBe(false);
  }, 300_000);
});

// In CI the prerequisites are there (root, util-linux, iproute2, docker.io):
// a missing one must fail, not skip.
if (!runnable) {
  const why = problem ?? "no docker engine";
  if (dockerRequired) test("the second-dockerd door test can run here", () => expect(why).toBe("runnable"));
  else test.skip(`the second-dockerd door test (skipped: ${why})`, () => {});
}
