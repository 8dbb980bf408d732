import { afterAll, beforeAll, describe, expect } from "bun:test";
import net from "node:net";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDockerBackend } from "../../../src/backends/docker/index.ts";
import { ensureAgentImage } from "../../../src/backends/docker/image.ts";
import { createSteps } from "../../../src/backends/docker/progress.ts";
import type { Backend, Bottle, LaunchContext } from "../../../src/backends/types.ts";
import { ensureCa } from "../../../src/gate/tls/ca.ts";
import { proxyEnv } from "../../../src/launch/inputs.ts";
import type { PlanJson } from "../../../src/plan/types.ts";
import type { Spec } from "../../../src/manifest/spec.ts";
import { provisionBottle, stageHomeTar } from "../../../src/provision/provision.ts";
import { planDoor } from "../../../src/backends/door-probe.ts";
import { probeDocker } from "../../../src/backends/select.ts";
import { admitDoor, doorHello, newDoorToken } from "../../../src/gate/door.ts";
import { SocketReader } from "../../../src/gate/io.ts";
import { freePort } from "../../../src/launch/door.ts";
import { TEST_BASE_IMAGE, doorResources, dockerAvailable, dockerTest, testDoors, type TestDoor } from "../../helpers/docker.ts";

// The docker backend against the real engine: the agent image built from
// the local test base (no Claude Code: CLAUDE_BOTTLE_AGENT_PACKAGE=none, the
// tests must not depend on the npm registry), a sealed container wired to a
// stand-in gate (a real HTTP server on a real unix socket in the state dir).
// The bottle's cases run once per door: behind the bridge door the stand-in
// gets a TCP front that admits only the bottle's token (the real gate's
// door check, gate/door.ts), where the real gate's door would listen.

const MARKER = "stand-in-gate-ok";
const SECRET = `sekrit-${crypto.randomUUID()}`;
const root = mkdtempSync(join(tmpdir(), "cb-docker-it-"));
const home = join(root, "cbhome");
const hostHome = join(root, "hosthome");
const stamp = Date.now().toString(36).slice(-4);
const slug = `it-${stamp}a`; // the image's tag; each door's bottle has its own slug
const repo = join(root, "repo");
const argvLog = join(root, "docker-argv.log");
// A unique tag of the test base: a different FROM line, so the first build
// below really builds (and the test removes what it made).
const baseTag = `claude-bottle-test/base:it-${slug}`;

const hostEnv: Record<string, string | undefined> = {
  ...process.env,
  HOME: hostHome,
  CLAUDE_BOTTLE_HOME: home,
  CLAUDE_BOTTLE_BASE_IMAGE: baseTag,
  CLAUDE_BOTTLE_AGENT_PACKAGE: "none",
  MY_SECRET: SECRET,
};

function sh(cmd: string[], cwd?: string): string {
  const r = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

// The bridge door's way to the stand-in: a TCP front where the gate's door
// would listen, admitting a connection only after the bottle's hello, then
// passing its bytes to the stand-in's unix socket (gone: cut off).
function doorFront(listen: { host: string; port: number }, token: string, sockPath: string) {
  const hello = doorHello(token);
  const server = net.createServer((raw) => {
    const reader = new SocketReader(raw);
    raw.on("error", () => {});
    void admitDoor(reader, hello, 5000).then((v) => {
      if (!v.ok) return raw.destroy();
      const rest = reader.detach();
      const up = net.connect({ path: sockPath });
      up.on("error", () => raw.destroy());
      up.write(rest);
      raw.pipe(up);
      up.pipe(raw);
      raw.resume();
    });
  });
  server.listen(listen.port, listen.host);
  return { stop: () => server.close() };
}

function standInGate(path: string, tag: string) {
  const requests: string[] = [];
  const server = Bun.serve({
    unix: path,
    fetch(req) {
      requests.push(`${req.method} ${req.url}`);
      return new Response(`${MARKER} ${tag} ${req.method} ${req.url}\n`);
    },
  });
  chmodSync(path, 0o666); // as the real gate does: any uid in the bottle may connect
  return { requests, stop: () => server.stop(true) };
}

const spec: Spec = {
  agent: "dev",
  bottle: "default",
  sources: { agent: "<embedded>", bottle: "<embedded>" },
  prompt: "You are in a bottle.\n",
  env: [
    { name: "LITERAL", kind: "literal", value: "plain-value" },
    { name: "MY_SECRET", kind: "host", hostVar: "MY_SECRET" },
  ],
  egress: [],
  git: [{ name: "web", url: "git@github.com:acme/web.git", allow_force: false, allow_delete: false }],
  skills: ["demo"],
  resources: { cpus: 1, memory: 512 },
  supervise: true,
  workspace: { mode: "copy", path: repo },
};

interface DoorCase {
  door: TestDoor;
  slug: string;
  stateDir: string;
  sockPath: string;
  plan: PlanJson;
  ctx: LaunchContext;
  front?: { stop(): void };
}

const progress: string[] = [];
let imageBuilds = 0;

function planFor(slugOf: string, stateDir: string, door: PlanJson["door"]): PlanJson {
  return {
    version: 1,
    agent: "dev",
    bottle: "default",
    backend: "docker",
    slug: slugOf,
    sources: spec.sources,
    env: [
      { name: "LITERAL", mode: "literal", host_var: null },
      { name: "MY_SECRET", mode: "host", host_var: "MY_SECRET" },
    ],
    skills: ["demo"],
    git: [],
    egress: [],
    workspace: spec.workspace,
    image: null,
    resources: spec.resources,
    supervise: true,
    state_dir: stateDir,
    door,
    warnings: [],
  };
}

// One bottle's host side for a door: its state dir and, behind the bridge
// door, where the real plan would put the gate's door (planDoor, forced).
async function doorCase(door: TestDoor, slugOf: string): Promise<DoorCase> {
  const stateDir = join(home, "state", slugOf);
  const sockPath = join(stateDir, "sock", "gate.sock");
  mkdirSync(join(stateDir, "sock"), { recursive: true, mode: 0o755 });
  await ensureCa(join(stateDir, "ca"), slugOf);
  const planned = planDoor({ backend: "docker", flag: door, env: hostEnv, engine: probeDocker(hostEnv).engine });
  expect(planned.problems).toEqual([]);
  const ctx: LaunchContext = {
    stateDir,
    gateSocket: sockPath,
    env: { LITERAL: "plain-value", ...proxyEnv() },
    secretEnvNames: ["MY_SECRET"],
    verbose: false,
    progress: (s) => progress.push(s),
    imageBuild: () => void imageBuilds++,
  };
  const c: DoorCase = { door, slug: slugOf, stateDir, sockPath, plan: planFor(slugOf, stateDir, planned.door), ctx };
  if (door === "bridge") {
    const gateAt = { host: planned.door.gate_listen!, port: await freePort(planned.door.gate_listen!) };
    const token = newDoorToken();
    ctx.door = { gate: gateAt, addHost: planned.door.add_host, token };
    c.front = doorFront(gateAt, token, sockPath);
  }
  return c;
}

let backend: Backend;
const made: string[] = [];

// What the launcher does with every bottle: the home staged as one tar,
// backend.launch (which may unpack it as the bottle starts), then the shared
// provisioning (whatever the start did not do).
async function launchProvisioned(s: Spec, p: PlanJson, c: LaunchContext): Promise<Bottle> {
  const input = { spec: s, stateDir: c.stateDir, hostEnv, progress: c.progress };
  const homeTar = await stageHomeTar(input);
  const b = await backend.launch(s, p, { ...c, homeTar });
  try {
    await provisionBottle(b, { ...input, homeTar });
  } catch (e) {
    await b.remove();
    throw e;
  }
  return b;
}

describe.if(dockerAvailable())("docker backend (real engine)", () => {
  beforeAll(async () => {
    sh(["docker", "tag", TEST_BASE_IMAGE, baseTag]);
    // The host side of a bottle: a repo to copy, a skill, CA, gate socket.
    mkdirSync(repo, { recursive: true });
    sh(["git", "init", "-q", "-b", "main", repo]);
    writeFileSync(join(repo, "README.md"), "hello\n");
    writeFileSync(join(repo, "run.sh"), "#!/bin/sh\necho run\n", { mode: 0o755 });
    writeFileSync(join(repo, ".gitignore"), ".env\n");
    writeFileSync(join(repo, ".env"), "IGNORED=1\n");
    sh(["git", "-C", repo, "add", "."]);
    sh(["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "init"]);
    writeFileSync(join(repo, "untracked.txt"), "new\n");
    // The user's own origin: the copy must point at the gate instead.
    sh(["git", "-C", repo, "remote", "add", "origin", "git@github.com:acme/web.git"]);
    mkdirSync(join(hostHome, ".claude", "skills", "demo"), { recursive: true });
    writeFileSync(join(hostHome, ".claude", "skills", "demo", "SKILL.md"), "# demo skill\n");
    // A docker wrapper that records every argv it is given.
    const wrapper = join(root, "docker-logged");
    writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec docker "$@"\n`, { mode: 0o755 });
    backend = createDockerBackend({ home, hostEnv, dockerBin: wrapper, tty: false });
  });

  afterAll(async () => {
    for (const image of [...made, baseTag]) Bun.spawnSync(["docker", "rmi", "-f", image], { stdout: "ignore", stderr: "ignore" });
    rmSync(root, { recursive: true, force: true });
  });

  dockerTest("builds the agent image from the test base, then reuses it by content hash; only a real build is announced", async () => {
    let announced = 0;
    const opts = {
      docker: { bin: "docker", env: () => hostEnv },
      home,
      hostEnv,
      steps: createSteps({ tty: false, line: () => {} }),
      verbose: false,
      err: () => {},
      onBuild: () => void announced++,
    };
    const t0 = Date.now();
    const first = await ensureAgentImage(opts);
    made.push(first.tag);
    expect(announced).toBe(1);
    const t1 = Date.now();
    const second = await ensureAgentImage(opts);
    const t2 = Date.now();
    expect(announced).toBe(1);
    expect(first.built).toBe(true);
    expect(first.agentVersion).toBeNull();
    expect(second.built).toBe(false);
    expect(second.tag).toBe(first.tag);
    expect(t2 - t1).toBeLessThan(t1 - t0);
    // The next launches check base and agent image with ONE engine
    // question (image-record.ts): on the engine's socket, no docker CLI run
    // at all; where the CLI would go elsewhere (a context), one CLI run. A
    // record that no longer matches falls back to the full check and still
    // finds the same image.
    const logged = join(root, "docker-count");
    const countLog = join(root, "docker-count.log");
    writeFileSync(logged, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${countLog}'\nexec docker "$@"\n`, { mode: 0o755 });
    const calls = () => (existsSync(countLog) ? readFileSync(countLog, "utf8").trim().split("\n") : []);
    const third = await ensureAgentImage({ ...opts, docker: { bin: logged, env: () => hostEnv } });
    expect(third).toMatchObject({ tag: first.tag, hash: first.hash, built: false });
    expect(calls()).toEqual([]);
    // DOCKER_CONTEXT=default: the CLI's own default, but only the CLI may say.
    const viaCli = { ...hostEnv, DOCKER_CONTEXT: "default" };
    const fifth = await ensureAgentImage({ ...opts, hostEnv: viaCli, docker: { bin: logged, env: () => viaCli } });
    expect(fifth).toMatchObject({ tag: first.tag, hash: first.hash, built: false });
    expect(calls()).toEqual([
      `image inspect --format {{.Id}} {{.Architecture}} {{range $k, $v := .Config.Labels}}{{if eq $k "claude-bottle.image-hash"}}{{$v}}{{end}}{{end}} ${baseTag} ${first.tag}`,
    ]);
    const recFile = readdirSync(join(home, "cache", "agent-image")).find((f) => f.startsWith("base-"))!;
    const rec = JSON.parse(readFileSync(join(home, "cache", "agent-image", recFile), "utf8"));
    writeFileSync(join(home, "cache", "agent-image", recFile), JSON.stringify({ ...rec, baseId: "sha256:stale" }));
    rmSync(countLog);
    const fourth = await ensureAgentImage({ ...opts, docker: { bin: logged, env: () => hostEnv } });
    expect(fourth).toMatchObject({ tag: first.tag, hash: first.hash, built: false });
    expect(calls().length).toBe(2); // the full check: base, then agent image
    expect(JSON.parse(readFileSync(join(home, "cache", "agent-image", recFile), "utf8")).baseId).toBe(rec.baseId);
    const label = sh(["docker", "image", "inspect", "--format", '{{index .Config.Labels "claude-bottle.image-hash"}}', first.tag]).trim();
    expect(label).toBe(first.hash);
    // The image has what a bottle needs; no claude (none was asked for).
    const r = Bun.spawnSync(["docker", "run", "--rm", "--network", "none", first.tag, "sh", "-c", "id -un; echo $HOME; command -v socat git curl dig >/dev/null && echo tools; command -v claude || echo no-claude"]);
    expect(r.stdout.toString().split("\n").slice(0, 4)).toEqual(["node", "/home/node", "tools", "no-claude"]);
  }, 60_000);

  for (const door of testDoors()) {
    describe(`door: ${door}`, () => {
      const slug = `it-${stamp}${door === "unix" ? "u" : "b"}`;
      let c: DoorCase;
      let bottle: Bottle;
      let gate: ReturnType<typeof standInGate>;
      const inside = (cmd: string, user?: string) => bottle.run(["sh", "-c", cmd], { user });
      beforeAll(async () => {
        c = await doorCase(door, slug);
        gate = standInGate(c.sockPath, "first");
      });
      afterAll(async () => {
        gate?.stop();
        c?.front?.stop();
        await bottle?.remove().catch(() => {});
      });

      dockerTest("launches a sealed, provisioned bottle", async () => {
        const logged = existsSync(argvLog) ? readFileSync(argvLog, "utf8").length : 0;
        bottle = await launchProvisioned(spec, c.plan, c.ctx);
        // Through the unix door the bottle starts with its home, trusting
        // its CA, and its relay is seen listening from the host: no exec for
        // the home step (the workspace copy still takes one). Behind the
        // bridge door (no host file reaches the engine) the home step runs.
        // (The home step is the one script that says this; argv-log entries span lines.)
        const homeSteps = readFileSync(argvLog, "utf8").slice(logged).split("the gate relay does not listen in the bottle").slice(1);
        if (door === "unix") {
          expect(bottle.started).toEqual({ home: true, trust: true, relay: true });
          expect(homeSteps).toEqual([]);
        } else {
          expect(bottle.started).toEqual({ home: false, trust: false, relay: false });
          expect(homeSteps).toHaveLength(1);
        }
        // The image was built by the first test: the launch reuses it and does
        // not ask for the "building the agent image" explanation.
        expect(imageBuilds).toBe(0);
        const info = (await backend.list()).find((b) => b.slug === slug);
        expect(info).toEqual({ slug, backend: "docker", status: "running", name: `claude-bottle-${slug}`, ...(door === "bridge" ? { door: "up" } : {}) });
        const items = await backend.cleanupPlan();
        expect(items.some((i) => i.kind === "container" && i.id === `claude-bottle-${slug}` && !i.door)).toBe(true);
        if (door === "bridge") {
          // The bridge and its volume: found by label, never taken for a bottle.
          expect(items.filter((i) => i.slug === slug && i.door).map((i) => `${i.kind} ${i.id}`).sort()).toEqual([`container claude-bottle-${slug}-bridge`, `volume claude-bottle-${slug}-door`]);
          const b = sh(["docker", "container", "inspect", "--format", "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}}", `claude-bottle-${slug}-bridge`]).trim();
          expect(b).toBe("node true [ALL] [no-new-privileges]");
        }
        const run = sh(["docker", "container", "inspect", "--format", "{{.HostConfig.NetworkMode}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.PidsLimit}} {{.HostConfig.Memory}}", `claude-bottle-${slug}`]).trim();
        expect(run).toBe(`none [ALL] [no-new-privileges] 4096 ${512 * 1024 * 1024}`);
      }, 60_000);

      dockerTest("http goes through the relay to the gate; nothing else leaves", async () => {
        const viaRelay = await inside("curl -sS --max-time 5 http://example.com/");
        expect(viaRelay.stdout).toBe(`${MARKER} first GET http://example.com/\n`);
        expect(gate.requests).toContain("GET http://example.com/");
        // No route out: a direct connection (documentation address) fails at once.
        const direct = await inside("curl -sS --noproxy '*' --max-time 3 http://192.0.2.1/");
        expect(direct.code).not.toBe(0);
        expect(direct.stdout).not.toContain(MARKER);
        expect((await inside("ip route show")).stdout.trim()).toBe("");
        expect((await inside("ip -o link show | awk -F': ' '{print $2}'")).stdout.trim()).toBe("lo");
        // The socket directory is read-only inside: nothing can be planted there.
        expect((await inside("touch /run/claude-bottle/planted")).code).not.toBe(0);
        expect(existsSync(join(c.stateDir, "sock", "planted"))).toBe(false);
        expect((await inside("ls /run/claude-bottle")).stdout).toBe("gate.sock\n");
      });

      dockerTest("a restarted gate's new socket appears inside without restarting the bottle", async () => {
        gate.stop();
        rmSync(c.sockPath, { force: true });
        expect((await inside("curl -sS --max-time 5 http://example.com/")).stdout).not.toContain(MARKER);
        gate = standInGate(c.sockPath, "second");
        expect((await inside("curl -sS --max-time 5 http://example.com/x")).stdout).toBe(`${MARKER} second GET http://example.com/x\n`);
      });

      dockerTest("env: proxy variables, literals, and the secret by name (never on docker's argv)", async () => {
        const env = (await inside("env")).stdout;
        for (const line of ["HTTP_PROXY=http://127.0.0.1:3128", "https_proxy=http://127.0.0.1:3128", "NO_PROXY=localhost,127.0.0.1", "LITERAL=plain-value", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", `MY_SECRET=${SECRET}`]) {
          expect(env).toContain(line);
        }
        const argv = readFileSync(argvLog, "utf8");
        expect(argv).toContain(" -e MY_SECRET ");
        expect(argv).not.toContain(SECRET);
        expect(progress.join("\n")).not.toContain(SECRET);
        if (door === "bridge") {
          // The door's token: by name to the bridge, never on an argv; the
          // bottle has no such variable at all.
          expect(argv).toContain(" -e DOOR_TOKEN ");
          expect(argv).not.toContain(c.ctx.door!.token);
          expect(env).not.toContain(c.ctx.door!.token);
          const files = (readdirSync(c.stateDir, { recursive: true }) as string[]).map((f) => join(c.stateDir, f)).filter((f) => statSync(f).isFile());
          expect(files.some((f) => readFileSync(f, "latin1").includes(c.ctx.door!.token))).toBe(false);
        }
      });

      dockerTest("provisioning: CA trusted, prompt, skills, git rewrite, Claude settings", async () => {
        const ca = readFileSync(join(c.stateDir, "ca", "ca.crt"), "utf8");
        const body = ca.split("\n").filter((l) => l && !l.startsWith("-----"))[1]!;
        expect((await inside(`grep -c '${body}' /etc/ssl/certs/ca-certificates.crt`)).stdout.trim()).toBe("1");
        expect((await inside("cat /usr/local/share/ca-certificates/claude-bottle.crt")).stdout).toBe(ca);
        expect((await inside("cat /home/node/.claude-bottle/prompt.md")).stdout).toBe(spec.prompt);
        expect((await inside("stat -c %U /home/node/.claude/skills/demo/SKILL.md && cat /home/node/.claude/skills/demo/SKILL.md")).stdout).toBe("node\n# demo skill\n");
        expect((await inside("git ls-remote --get-url git@github.com:acme/web.git")).stdout.trim()).toBe("http://git.bottle.internal/web.git");
        expect(JSON.parse((await inside("cat /home/node/.claude.json")).stdout).mcpServers.supervise.url).toBe("http://supervise.bottle.internal/mcp");
        expect(JSON.parse((await inside("cat /home/node/.claude/settings.json")).stdout).env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC).toBe("1");
      });

      dockerTest("workspace: the repository copied with .git, modes kept, owned by node, ignored files left out", async () => {
        const ls = (await inside("cd /workspace && ls -A | sort && stat -c '%U %a' run.sh README.md")).stdout;
        expect(ls).toBe([".git", ".gitignore", "README.md", "run.sh", "untracked.txt", "node 755", "node 644", ""].join("\n"));
        expect((await inside("git -C /workspace log --format=%s")).stdout.trim()).toBe("init");
        expect((await inside("git -C /workspace status --porcelain")).stdout.trim()).toBe("?? untracked.txt");
      });

      dockerTest("workspace: the copy's origin goes to the host repo through the gate; the host's origin is untouched", async () => {
        expect((await inside("git -C /workspace remote get-url origin")).stdout.trim()).toBe("http://git.bottle.internal/workspace.git");
        expect((await inside("git -C /workspace remote get-url --push origin")).stdout.trim()).toBe("http://git.bottle.internal/workspace.git");
        expect((await inside("stat -c %U /workspace/.git/config")).stdout.trim()).toBe("node");
        expect(sh(["git", "-C", repo, "remote", "get-url", "origin"]).trim()).toBe("git@github.com:acme/web.git");
      });

      dockerTest("run streams a large stdin (300 MB) without holding it in memory", async () => {
        const total = 300 * 1024 * 1024;
        const chunk = new Uint8Array(1024 * 1024).fill(0x61);
        let sent = 0;
        const input = new ReadableStream<Uint8Array>({
          pull(c) {
            if (sent >= total) return c.close();
            c.enqueue(chunk);
            sent += chunk.length;
          },
        });
        Bun.gc(true);
        const base = process.memoryUsage().rss;
        let peak = base;
        const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
        try {
          const r = await bottle.run(["wc", "-c"], { input });
          expect(r.code).toBe(0);
          expect(r.stdout.trim()).toBe(String(total));
        } finally {
          clearInterval(timer);
        }
        expect(peak - base).toBeLessThan(100 * 1024 * 1024);
      }, 60_000);

      dockerTest("run stops a command that prints without end (the bottle chooses what it prints), stdout or stderr, plain or streamed stdin", async () => {
        Bun.gc(true);
        const base = process.memoryUsage().rss;
        let peak = base;
        const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
        try {
          for (const [cmd, stream] of [["yes", "stdout"], ["yes >&2", "stderr"]] as const) {
            await expect(bottle.run(["sh", "-c", cmd], { maxStdout: 1024 * 1024 })).rejects.toThrow(`printed more than ${stream === "stdout" ? 1 : 4} MiB on ${stream}; it was stopped`);
          }
          const input = new ReadableStream<Uint8Array>({ pull: (c) => c.close() });
          await expect(bottle.run(["sh", "-c", "yes"], { input })).rejects.toThrow("printed more than 64 MiB on stdout; it was stopped");
        } finally {
          clearInterval(timer);
        }
        expect(peak - base).toBeLessThan(200 * 1024 * 1024);
        // The bottle is still there for the next command.
        expect((await bottle.run(["echo", "still here"])).stdout).toBe("still here\n");
      }, 60_000);

      dockerTest("exec passes the exit code; run passes stdin", async () => {
        expect(await bottle.exec(["sh", "-c", "exit 7"])).toBe(7);
        const r = await bottle.run(["sh", "-c", "cat; exit 3"], { input: "from stdin\n" });
        expect(r).toEqual({ code: 3, stdout: "from stdin\n", stderr: "" });
        expect((await bottle.run(["id", "-u"], { user: "0" })).stdout.trim()).toBe("0");
      });

      dockerTest("exec with stdin inherited from the caller (as `claude-bottle exec` runs it)", async () => {
        const p = Bun.spawn(["bun", join(import.meta.dir, "exec-child.ts"), slug, "sh", "-c", "tr a-z A-Z; exit 5"], {
          env: hostEnv as Record<string, string>,
          stdin: new Blob(["piped through\n"]),
          stdout: "pipe",
          stderr: "pipe",
        });
        const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
        expect(out).toBe("PIPED THROUGH\n");
        expect(code).toBe(5);
      });

      dockerTest("remove is idempotent; attach then finds nothing", async () => {
        await bottle.remove();
        await bottle.remove();
        expect(await backend.attach(slug)).toBeNull();
        // exec reaches a bottle through a handle, without asking the engine
        // first: a gone bottle is said so in one line, not as a command's exit.
        await expect(backend.handle(slug).exec(["true"])).rejects.toThrow(`bottle ${slug} is not running`);
        await expect(backend.handle(slug).run(["true"])).rejects.toThrow(`bottle ${slug} is not running`);
        expect((await backend.list()).some((b) => b.slug === slug)).toBe(false);
        await bottle.stop(); // stopping a removed bottle is harmless too
        await backend.cleanup([{ kind: "container", id: `claude-bottle-${slug}`, detail: "" }]);
        // Behind the bridge door its bridge and volume went with it.
        expect(doorResources(slug)).toBe("");
      });

      if (door === "unix") {
        dockerTest("a home tar that does not unpack: the bottle stops as it starts, and the launch says so in one line", async () => {
          const f = await doorCase(door, `${slug.slice(0, -1)}f`);
          const bad = join(f.stateDir, "home.tar");
          writeFileSync(bad, "not a tar archive at all".repeat(40), { mode: 0o644 });
          try {
            await expect(backend.launch({ ...spec, workspace: { mode: "none", path: null } }, f.plan, { ...f.ctx, homeTar: bad })).rejects.toThrow(
              new RegExp(`^bottle ${f.slug} stopped as it started: .*tar`),
            );
          } finally {
            await backend.handle(f.slug).remove();
          }
        }, 60_000);

        dockerTest("where the CLI goes elsewhere than the socket (a context), the relay is awaited from inside; the home still comes at start", async () => {
          const f = await doorCase(door, `${slug.slice(0, -1)}x`);
          const viaCli = { ...hostEnv, DOCKER_CONTEXT: "default" };
          const other = createDockerBackend({ home, hostEnv: viaCli, tty: false });
          const fspec: Spec = { ...spec, workspace: { mode: "none", path: null } };
          const input = { spec: fspec, stateDir: f.stateDir, hostEnv: viaCli, progress: () => {} };
          const homeTar = await stageHomeTar(input);
          const b = await other.launch(fspec, { ...f.plan, workspace: fspec.workspace }, { ...f.ctx, homeTar });
          try {
            expect(b.started).toEqual({ home: true, trust: true, relay: false });
            await provisionBottle(b, { ...input, homeTar });
            expect((await b.run(["cat", "/home/node/.claude-bottle/prompt.md"])).stdout).toBe(spec.prompt);
            expect((await b.run(["sh", "-c", "grep -c ' 0100007F:0C38 00000000:0000 0A ' /proc/net/tcp"])).stdout.trim()).toBe("1");
          } finally {
            await b.remove();
          }
        }, 60_000);
      }

      dockerTest("mount mode: work tree bind-mounted read-write, .git/hooks and .git/config read-only", async () => {
      const m = await doorCase(door, `${slug.slice(0, -1)}m`);
      const mspec: Spec = { ...spec, skills: [], git: [], workspace: { mode: "mount", path: repo } };
      const mbottle = await launchProvisioned(mspec, { ...m.plan, workspace: mspec.workspace, skills: [] }, m.ctx);
      try {
        // As the uid that owns the host files, so only the mount decides.
        const user = String(process.getuid!());
        const w = await mbottle.run(["sh", "-c", "echo from-bottle > /workspace/written.txt"], { user });
        expect(w.code).toBe(0);
        expect(readFileSync(join(repo, "written.txt"), "utf8")).toBe("from-bottle\n");
        const before = readFileSync(join(repo, ".git", "config"), "utf8");
        expect((await mbottle.run(["sh", "-c", "echo '[core]' >> /workspace/.git/config"], { user })).code).not.toBe(0);
        expect((await mbottle.run(["sh", "-c", "echo 'exit 0' > /workspace/.git/hooks/pre-commit"], { user })).code).not.toBe(0);
        expect(readFileSync(join(repo, ".git", "config"), "utf8")).toBe(before);
        expect(existsSync(join(repo, ".git", "hooks", "pre-commit"))).toBe(false);
        // git works in the mounted repo (safe.directory from the gitconfig).
        expect((await mbottle.run(["git", "-C", "/workspace", "log", "--format=%s"])).stdout.trim()).toBe("init");
        // The host repository itself: its origin is the user's, not the gate.
        expect((await mbottle.run(["git", "-C", "/workspace", "remote", "get-url", "origin"])).stdout.trim()).toBe("git@github.com:acme/web.git");
      } finally {
        m.front?.stop();
        await mbottle.remove();
        rmSync(join(repo, "written.txt"), { force: true });
      }
    }, 60_000);
    });
  }
});

// Registered even without docker, so a CI without an engine fails loudly.
dockerTest("docker engine present for the docker backend suite", () => {
  expect(dockerAvailable()).toBe(true);
});
