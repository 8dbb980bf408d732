import { afterAll, beforeAll, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive } from "../../../src/state/process.ts";
import { dockerTest, dockerCliEnv } from "../../helpers/docker.ts";

// The lifecycle end to end: the real CLI, the real gate, the real Docker
// backend, a local upstream on the host's loopback that the bottle may reach
// only through the gate.

const CLI = join(import.meta.dir, "..", "..", "..", "src", "cli.ts");
let home = "";
let work = "";
let upstream: ReturnType<typeof Bun.serve> | null = null;
// The credential route's upstream, plain http: the gate must never send it
// the credential (or the placeholder) in clear.
let authUpstream: ReturnType<typeof Bun.serve> | null = null;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "cb-life-"));
  work = mkdtempSync(join(tmpdir(), "cb-work-"));
  upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello from upstream\n") });
  authUpstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      authSeen.push(req.headers.get("authorization") ?? "");
      return new Response("hello from the credential upstream\n");
    },
  });
  mkdirSync(join(home, "bottles"), { recursive: true });
  mkdirSync(join(home, "agents"), { recursive: true });
  writeFileSync(
    join(home, "bottles", "itest.md"),
    [
      "---",
      "env:",
      "  PLANTED: ${ITEST_PLANTED}",
      "egress:",
      "  - host: 127.0.0.1",
      `    ports: [${upstream.port}]`,
      "    allow_private: true",
      "  - host: 127.0.0.1",
      `    ports: [${authUpstream.port}]`,
      "    allow_private: true",
      "    auth:",
      "      token_ref: ITEST_TOKEN",
      "---",
      "",
    ].join("\n"),
  );
  writeFileSync(join(home, "agents", "itest.md"), "---\nbottle: itest\nworkspace: none\n---\n\nIntegration test agent.\n");
});

afterAll(async () => {
  // Whatever a failed test left: the tool's own cleanup, then the dirs.
  if (home) await cli(["cleanup", "--yes"]);
  for (const slug of slugs) await cli(["down", slug]);
  upstream?.stop(true);
  authUpstream?.stop(true);
  for (const d of [home, work]) if (d) rmSync(d, { recursive: true, force: true });
});

const slugs: string[] = [];
const authSeen: string[] = [];
// Planted secrets: a host value copied into the bottle's env, and a
// credential that must stay on the host. Neither may show up in the state
// dir or in anything the CLI prints (except where the bottle itself echoes
// its own env var on purpose).
const PLANTED = "itest-planted-Zx81q-secret";
const REAL_TOKEN = "itest-real-token-Q7w2e9r4t6y8";
const outputs: string[] = [];

function env(extra: Record<string, string> = {}): Record<string, string> {
  return dockerCliEnv(home, { ITEST_PLANTED: PLANTED, ITEST_TOKEN: REAL_TOKEN, ...extra });
}

async function cli(args: string[], opts: { input?: string; extraEnv?: Record<string, string> } = {}) {
  const p = Bun.spawn([process.execPath, CLI, ...args], {
    cwd: work,
    env: env(opts.extraEnv),
    stdin: opts.input !== undefined ? new Blob([opts.input]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  outputs.push(stdout, stderr);
  return { code, stdout, stderr };
}

async function upDetached(): Promise<string> {
  const r = await cli(["up", "itest", "-d", "--yes"]);
  if (r.code !== 0) throw new Error(`up -d failed (${r.code}): ${r.stderr}`);
  const slug = r.stdout.trim().split("\n").pop()!;
  expect(slug).toMatch(/^itest-[0-9a-z]{5}$/);
  slugs.push(slug);
  return slug;
}

const pidOf = (slug: string, file: string) => Number(readFileSync(join(home, "state", slug, file), "utf8").trim());
// Dead includes "zombie nobody reaped": `up -d` exits, so its children are
// re-parented to whatever PID 1 is (in CI containers, often not a reaper).
const alive = (pid: number) => isAlive(pid);
function containers(slug: string): string {
  const r = Bun.spawnSync(["docker", "ps", "-a", "-q", "--filter", `label=claude-bottle.slug=${slug}`], { stdout: "pipe" });
  return r.stdout.toString().trim();
}
const curl = (port: number, path = "/") => ["curl", "-s", "-m", "10", "--noproxy", "", `http://127.0.0.1:${port}${path}`];

dockerTest(
  "up -d, exec through the gate, ls, down, down again",
  async () => {
    const slug = await upDetached();
    const port = upstream!.port!;

    const ok = await cli(["exec", slug, "--", ...curl(port)]);
    expect(ok.stdout).toBe("hello from upstream\n");
    expect(ok.code).toBe(0);

    // A port the route doesn't name: the gate says no.
    const denied = await cli(["exec", slug, "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10", "--noproxy", "", `http://127.0.0.1:${port + 1}/`]);
    expect(denied.stdout).toBe("403");

    // exec passes exit codes and stdin/stdout through, for scripts.
    expect((await cli(["exec", slug, "--", "sh", "-c", "exit 7"])).code).toBe(7);
    expect((await cli(["exec", slug, "--", "cat"], { input: "piped stdin\n" })).stdout).toBe("piped stdin\n");
    // Flags after `--` belong to the command, even --help.
    expect((await cli(["exec", slug, "--", "sh", "-c", 'echo "$@"', "x", "-h", "--help", "--debug"])).stdout).toBe("-h --help --debug\n");

    const ls = await cli(["ls", "--json"]);
    expect(ls.code).toBe(0);
    const row = (JSON.parse(ls.stdout) as { slug: string; status: string; allowed: number; blocked: number; backend: string }[]).find((r) => r.slug === slug)!;
    expect(row).toMatchObject({ status: "running", backend: "docker" });
    expect(row.allowed).toBeGreaterThanOrEqual(1);
    expect(row.blocked).toBeGreaterThanOrEqual(1);
    expect((await cli(["ls"])).stdout).toContain(slug);

    // The credential: the bottle holds a placeholder. Its route's upstream
    // speaks plain http, so the gate refuses the request rather than put the
    // credential (or the placeholder) on the wire in clear; the upstream
    // sees nothing. (Injection over https: test/integration/gate/.)
    const inBottle = (await cli(["exec", slug, "--", "printenv", "ITEST_TOKEN"])).stdout.trim();
    expect(inBottle.length).toBe(REAL_TOKEN.length);
    expect(inBottle).not.toBe(REAL_TOKEN);
    const withAuth = await cli(["exec", slug, "--", "sh", "-c", `curl -s -m 10 --noproxy '' -H "Authorization: Bearer $ITEST_TOKEN" http://127.0.0.1:${authUpstream!.port}/auth`]);
    expect(withAuth.stdout).toBe(`blocked: plain http to 127.0.0.1: its credential is only sent over https\n`);
    expect(authSeen).toEqual([]);
    // The bottle's own secret is there (by name, never on argv) ...
    const planted = await cli(["exec", slug, "--", "printenv", "PLANTED"]);
    expect(planted.stdout.trim()).toBe(PLANTED);
    outputs.pop();
    outputs.pop(); // that one echo is the bottle's own doing
    // ... and nowhere in the state dir or the CLI's output.
    const stateDir = join(home, "state", slug);
    const files = (readdirSync(stateDir, { recursive: true }) as string[]).map((f) => join(stateDir, f)).filter((f) => statSync(f).isFile());
    const hay = files.map((f) => readFileSync(f, "latin1")).join("\n") + outputs.join("\n");
    expect(hay.includes(PLANTED)).toBe(false);
    expect(hay.includes(REAL_TOKEN)).toBe(false);

    const gate = pidOf(slug, "gate.pid");
    const d1 = await cli(["down", slug]);
    expect(d1.code).toBe(0);
    expect(containers(slug)).toBe("");
    expect(alive(gate)).toBe(false);
    expect(existsSync(join(home, "state", slug))).toBe(false);
    const d2 = await cli(["down", slug]);
    expect(d2.code).toBe(0);
    expect(d2.stderr).toContain("already gone");
  },
  240_000,
);

dockerTest(
  "a kill -9'd gate: the bottle is cut off, then the supervisor brings the gate back",
  async () => {
    const slug = await upDetached();
    const port = upstream!.port!;
    expect((await cli(["exec", slug, "--", ...curl(port)])).stdout).toBe("hello from upstream\n");
    // Pause the supervisor so the window without a gate is observable.
    const sup = pidOf(slug, "supervisor.pid");
    const gate = pidOf(slug, "gate.pid");
    process.kill(sup, "SIGSTOP");
    try {
      process.kill(gate, "SIGKILL");
      for (let i = 0; i < 100 && alive(gate); i++) await Bun.sleep(20);
      const cut = await cli(["exec", slug, "--", ...curl(port)]);
      expect(cut.code).not.toBe(0); // fail closed: no gate, no way out
      expect(cut.stdout).not.toContain("hello");
    } finally {
      process.kill(sup, "SIGCONT");
    }
    const t0 = Date.now();
    let back = "";
    while (Date.now() - t0 < 30_000) {
      back = (await cli(["exec", slug, "--", ...curl(port)])).stdout;
      if (back === "hello from upstream\n") break;
      await Bun.sleep(250);
    }
    expect(back).toBe("hello from upstream\n");
    // The supervisor records the restart once it has seen the new gate answer.
    const audit = () => readFileSync(join(home, "state", slug, "audit.jsonl"), "utf8");
    for (let i = 0; i < 100 && !audit().includes('"event":"gate-restarted"'); i++) await Bun.sleep(50);
    expect(audit()).toContain('"event":"gate-restarted"');
    expect((await cli(["down", slug])).code).toBe(0);
  },
  240_000,
);

dockerTest(
  "cleanup --yes after kill -9 of a foreground up and its gate leaves nothing",
  async () => {
    const p = Bun.spawn([process.execPath, CLI, "up", "itest", "--yes"], {
      cwd: work,
      env: env({ CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(["sleep", "600"]) }),
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    // Wait until the agent runs: state says running.
    let slug = "";
    const t0 = Date.now();
    while (Date.now() - t0 < 120_000 && !slug) {
      await Bun.sleep(250);
      const r = await cli(["ls", "--json"]);
      const row = (JSON.parse(r.stdout || "[]") as { slug: string; status: string }[]).find((x) => x.status === "running" && !slugs.includes(x.slug));
      if (row) slug = row.slug;
    }
    expect(slug).not.toBe("");
    slugs.push(slug);
    const gate = pidOf(slug, "gate.pid");
    p.kill("SIGKILL");
    await p.exited;
    process.kill(gate, "SIGKILL");
    for (let i = 0; i < 100 && alive(gate); i++) await Bun.sleep(20);
    expect(containers(slug)).not.toBe("");

    const ls = await cli(["ls", "--json"]);
    expect((JSON.parse(ls.stdout) as { slug: string; status: string }[]).find((r) => r.slug === slug)?.status).toBe("orphaned");

    const c1 = await cli(["cleanup", "--yes"]);
    expect(c1.code).toBe(0);
    expect(c1.stdout).toContain(`claude-bottle-${slug}`);
    expect(containers(slug)).toBe("");
    expect(existsSync(join(home, "state", slug))).toBe(false);
    const c2 = await cli(["cleanup", "--yes"]);
    expect(c2.code).toBe(0);
    expect(c2.stdout).toContain("nothing to clean up");
  },
  240_000,
);

dockerTest(
  "a non-zero agent exit keeps the state; resume relaunches the same slug; exit 0 then removes it",
  async () => {
    const failing = await cli(["up", "itest", "--yes"], { extraEnv: { CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(["sh", "-c", "exit 3"]) } });
    expect(failing.code).toBe(3);
    const slug = /claude-bottle resume (\S+)/.exec(failing.stderr)?.[1] ?? "";
    expect(slug).toMatch(/^itest-[0-9a-z]{5}$/);
    slugs.push(slug);
    const stateDir = join(home, "state", slug);
    expect(existsSync(join(stateDir, ".preserve"))).toBe(true);
    expect(containers(slug)).toBe("");
    const ca = readFileSync(join(stateDir, "ca", "ca.crt"), "utf8");
    const row = (JSON.parse((await cli(["ls", "--json"])).stdout) as { slug: string; status: string }[]).find((r) => r.slug === slug);
    expect(row?.status).toBe("preserved (exit 3)");

    // The resumed session reaches the upstream with the same CA in place.
    const ok = await cli(["resume", slug], {
      extraEnv: {
        CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify([
          "sh",
          "-c",
          `curl -sf -m 10 --noproxy '' http://127.0.0.1:${upstream!.port}/resumed && cat /usr/local/share/ca-certificates/claude-bottle.crt`,
        ]),
      },
    });
    expect(ok.stdout).toContain("hello from upstream");
    expect(ok.stdout).toContain(ca.trim()); // the bottle trusts the same CA as before
    expect(ok.code).toBe(0);
    expect(existsSync(stateDir)).toBe(false);
    expect(containers(slug)).toBe("");
    const again = await cli(["resume", slug]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("no state");
  },
  240_000,
);
