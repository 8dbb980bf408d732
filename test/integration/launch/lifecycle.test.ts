import { afterAll, beforeAll, describe, expect } from "bun:test";
import net from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive } from "../../../src/state/process.ts";
import { doorResources, dockerTest, dockerCliEnv, testDoors, type TestDoor } from "../../helpers/docker.ts";

// The lifecycle end to end: the real CLI, the real gate, the real Docker
// backend, a local upstream on the host's loopback that the bottle may reach
// only through the gate. Once per door (testDoors): the unix door, and the
// bridge door Docker Desktop, OrbStack and colima get, forced here with
// CLAUDE_BOTTLE_DOOR=bridge (its own cases at the end).

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
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => {
      upstreamHits++;
      return new Response("hello from upstream\n");
    },
  });
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
// Every request the host-side upstream received: what a cut-off bottle must
// not add to.
let upstreamHits = 0;
// Planted secrets: a host value copied into the bottle's env, and a
// credential that must stay on the host. Neither may show up in the state
// dir or in anything the CLI prints (except where the bottle itself echoes
// its own env var on purpose).
const PLANTED = "itest-planted-Zx81q-secret";
const REAL_TOKEN = "itest-real-token-Q7w2e9r4t6y8";
const outputs: string[] = [];

function env(extra: Record<string, string> = {}, door: TestDoor = "unix"): Record<string, string> {
  return dockerCliEnv(home, { ITEST_PLANTED: PLANTED, ITEST_TOKEN: REAL_TOKEN, CLAUDE_BOTTLE_DOOR: door, ...extra });
}

type CliOpts = { input?: string; extraEnv?: Record<string, string>; door?: TestDoor };
async function cli(args: string[], opts: CliOpts = {}) {
  const p = Bun.spawn([process.execPath, CLI, ...args], {
    cwd: work,
    env: env(opts.extraEnv, opts.door),
    stdin: opts.input !== undefined ? new Blob([opts.input]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  outputs.push(stdout, stderr);
  return { code, stdout, stderr };
}

// A foreground `up` whose agent sleeps, once its bottle runs (ls says so).
async function foregroundUp(door: TestDoor): Promise<{ p: ReturnType<typeof Bun.spawn>; slug: string }> {
  const p = Bun.spawn([process.execPath, CLI, "up", "itest", "--yes"], {
    cwd: work,
    env: env({ CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(["sleep", "600"]) }, door),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let slug = "";
  const t0 = Date.now();
  while (Date.now() - t0 < 120_000 && !slug) {
    await Bun.sleep(250);
    const r = await cli(["ls", "--json"], { door });
    const row = (JSON.parse(r.stdout || "[]") as { slug: string; status: string }[]).find((x) => x.status === "running" && !slugs.includes(x.slug));
    if (row) slug = row.slug;
  }
  expect(slug).not.toBe("");
  slugs.push(slug);
  return { p, slug };
}

async function upDetached(door: TestDoor): Promise<string> {
  const r = await cli(["up", "itest", "-d", "--yes"], { door });
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
// The slug's containers and volumes (the bridge door's bridge and volume too).
const containers = doorResources;
const curl = (port: number, path = "/") => ["curl", "-s", "-m", "10", "--noproxy", "", `http://127.0.0.1:${port}${path}`];
const sh = (argv: string[]) => {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString() };
};

// The bottle reaches the upstream again (its door is back).
async function backWithin(slug: string, port: number, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if ((await cli(["exec", slug, "--", ...curl(port)], { door: "bridge" })).stdout === "hello from upstream\n") return true;
    await Bun.sleep(250);
  }
  return false;
}

// A host process at the gate's door: sends the pieces, reads until the gate
// closes the connection; what came back.
function knock(gate: { host: string; port: number }, pieces: string[]): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(gate.port, gate.host);
    let reply = "";
    const guard = setTimeout(() => s.destroy(), 15_000);
    s.on("data", (d) => (reply += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(guard);
      resolve(reply);
    });
    s.on("connect", () => {
      for (const p of pieces) s.write(p);
    });
  });
}

for (const door of testDoors()) {
  const c = (args: string[], opts: CliOpts = {}) => cli(args, { ...opts, door });
  describe(`door: ${door}`, () => {
    dockerTest(
      `up -d, exec through the gate, ls, down, down again`,
      async () => {
        const slug = await upDetached(door);
        const port = upstream!.port!;

        const ok = await c(["exec", slug, "--", ...curl(port)]);
        expect(ok.stdout).toBe("hello from upstream\n");
        expect(ok.code).toBe(0);

        // A port the route doesn't name: the gate says no.
        const denied = await c(["exec", slug, "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10", "--noproxy", "", `http://127.0.0.1:${port + 1}/`]);
        expect(denied.stdout).toBe("403");

        // exec passes exit codes and stdin/stdout through, for scripts.
        expect((await c(["exec", slug, "--", "sh", "-c", "exit 7"])).code).toBe(7);
        expect((await c(["exec", slug, "--", "cat"], { input: "piped stdin\n" })).stdout).toBe("piped stdin\n");
        // Flags after `--` belong to the command, even --help.
        expect((await c(["exec", slug, "--", "sh", "-c", 'echo "$@"', "x", "-h", "--help", "--debug"])).stdout).toBe("-h --help --debug\n");

        const ls = await c(["ls", "--json"]);
        expect(ls.code).toBe(0);
        const row = (JSON.parse(ls.stdout) as { slug: string; status: string; allowed: number; blocked: number; backend: string }[]).find((r) => r.slug === slug)!;
        expect(row).toMatchObject({ status: "running", backend: "docker" });
        expect(row.allowed).toBeGreaterThanOrEqual(1);
        expect(row.blocked).toBeGreaterThanOrEqual(1);
        expect((await c(["ls"])).stdout).toContain(slug);

        // The credential: the bottle holds a placeholder. Its route's upstream
        // speaks plain http, so the gate refuses the request rather than put the
        // credential (or the placeholder) on the wire in clear; the upstream
        // sees nothing. (Injection over https: test/integration/gate/.)
        const inBottle = (await c(["exec", slug, "--", "printenv", "ITEST_TOKEN"])).stdout.trim();
        expect(inBottle.length).toBe(REAL_TOKEN.length);
        expect(inBottle).not.toBe(REAL_TOKEN);
        const withAuth = await c(["exec", slug, "--", "sh", "-c", `curl -s -m 10 --noproxy '' -H "Authorization: Bearer $ITEST_TOKEN" http://127.0.0.1:${authUpstream!.port}/auth`]);
        expect(withAuth.stdout).toBe(`blocked: plain http to 127.0.0.1: its credential is only sent over https\n`);
        expect(authSeen).toEqual([]);
        // The bottle's own secret is there (by name, never on argv) ...
        const planted = await c(["exec", slug, "--", "printenv", "PLANTED"]);
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
        const d1 = await c(["down", slug]);
        expect(d1.code).toBe(0);
        expect(containers(slug)).toBe("");
        expect(alive(gate)).toBe(false);
        expect(existsSync(join(home, "state", slug))).toBe(false);
        const d2 = await c(["down", slug]);
        expect(d2.code).toBe(0);
        expect(d2.stderr).toContain("already gone");
      },
      240_000,
    );

    dockerTest(
      `a kill -9'd gate: the bottle is cut off, then the supervisor brings the gate back`,
      async () => {
        const slug = await upDetached(door);
        const port = upstream!.port!;
        expect((await c(["exec", slug, "--", ...curl(port)])).stdout).toBe("hello from upstream\n");
        // Pause the supervisor so the window without a gate is observable.
        const sup = pidOf(slug, "supervisor.pid");
        const gate = pidOf(slug, "gate.pid");
        process.kill(sup, "SIGSTOP");
        try {
          process.kill(gate, "SIGKILL");
          for (let i = 0; i < 100 && alive(gate); i++) await Bun.sleep(20);
          const cut = await c(["exec", slug, "--", ...curl(port)]);
          expect(cut.code).not.toBe(0); // fail closed: no gate, no way out
          expect(cut.stdout).not.toContain("hello");
        } finally {
          process.kill(sup, "SIGCONT");
        }
        const t0 = Date.now();
        let back = "";
        while (Date.now() - t0 < 30_000) {
          back = (await c(["exec", slug, "--", ...curl(port)])).stdout;
          if (back === "hello from upstream\n") break;
          await Bun.sleep(250);
        }
        expect(back).toBe("hello from upstream\n");
        // The supervisor records the restart once it has seen the new gate answer.
        const audit = () => readFileSync(join(home, "state", slug, "audit.jsonl"), "utf8");
        for (let i = 0; i < 100 && !audit().includes('"event":"gate-restarted"'); i++) await Bun.sleep(50);
        expect(audit()).toContain('"event":"gate-restarted"');
        expect((await c(["down", slug])).code).toBe(0);
      },
      240_000,
    );

    dockerTest(
      `cleanup --yes after kill -9 of a foreground up and its gate leaves nothing`,
      async () => {
        const { p, slug } = await foregroundUp(door);
        const gate = pidOf(slug, "gate.pid");
        p.kill("SIGKILL");
        await p.exited;
        process.kill(gate, "SIGKILL");
        for (let i = 0; i < 100 && alive(gate); i++) await Bun.sleep(20);
        expect(containers(slug)).not.toBe("");

        const ls = await c(["ls", "--json"]);
        expect((JSON.parse(ls.stdout) as { slug: string; status: string }[]).find((r) => r.slug === slug)?.status).toBe("orphaned");

        const c1 = await c(["cleanup", "--yes"]);
        expect(c1.code).toBe(0);
        expect(c1.stdout).toContain(`claude-bottle-${slug}`);
        expect(containers(slug)).toBe("");
        expect(existsSync(join(home, "state", slug))).toBe(false);
        const c2 = await c(["cleanup", "--yes"]);
        expect(c2.code).toBe(0);
        expect(c2.stdout).toContain("nothing to clean up");
      },
      240_000,
    );

    dockerTest(
      `a non-zero agent exit keeps the state; resume relaunches the same slug; exit 0 then removes it`,
      async () => {
        const failing = await c(["up", "itest", "--yes"], { extraEnv: { CLAUDE_BOTTLE_AGENT_ARGV: JSON.stringify(["sh", "-c", "exit 3"]) } });
        expect(failing.code).toBe(3);
        const slug = /claude-bottle resume (\S+)/.exec(failing.stderr)?.[1] ?? "";
        expect(slug).toMatch(/^itest-[0-9a-z]{5}$/);
        slugs.push(slug);
        const stateDir = join(home, "state", slug);
        expect(existsSync(join(stateDir, ".preserve"))).toBe(true);
        expect(containers(slug)).toBe("");
        const ca = readFileSync(join(stateDir, "ca", "ca.crt"), "utf8");
        const row = (JSON.parse((await c(["ls", "--json"])).stdout) as { slug: string; status: string }[]).find((r) => r.slug === slug);
        expect(row?.status).toBe("preserved (exit 3)");

        // The resumed session reaches the upstream with the same CA in place.
        const ok = await c(["resume", slug], {
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
        const again = await c(["resume", slug]);
        expect(again.code).not.toBe(0);
        expect(again.stderr).toContain("no state");
      },
      240_000,
    );

    if (door !== "bridge") return;

    // The gate's TCP door from a host process without the bottle's token.
    dockerTest(
      "the gate's door refuses and audits a host process without the token (none, a wrong one, half of one)",
      async () => {
        const slug = await upDetached(door);
        const stateDir = join(home, "state", slug);
        const { gate } = JSON.parse(readFileSync(join(stateDir, "bridge.json"), "utf8")) as { gate: { host: string; port: number } };
        expect(gate.host).not.toBe("0.0.0.0");
        const hitsBefore = upstreamHits;
        const blocked = async () => (JSON.parse((await c(["ls", "--json"])).stdout) as { slug: string; blocked: number }[]).find((r) => r.slug === slug)!.blocked;
        const before = await blocked();
        const request = `GET http://127.0.0.1:${upstream!.port}/knock HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
        const wrong = `claude-bottle-door/1 ${"0".repeat(64)}\n`;
        const replies = await Promise.all([knock(gate, [request]), knock(gate, [wrong + request]), knock(gate, [wrong.slice(0, 30)])]);
        expect(replies).toEqual(["", "", ""]); // not a byte back
        expect(upstreamHits).toBe(hitsBefore);
        const denials = readFileSync(join(stateDir, "audit.jsonl"), "utf8")
          .split("\n")
          .filter((l) => l.includes('"door: '))
          .map((l) => JSON.parse(l).reason as string);
        // The plain request is shorter than a hello: the gate waits for the
        // rest, then gives up; it never answers it.
        expect(denials).toHaveLength(3);
        const count = (re: RegExp) => denials.filter((d) => re.test(d)).length;
        expect(count(/^door: wrong door token from /)).toBe(1);
        expect(count(/^door: no door token within 5000 ms \(30 bytes\) from /)).toBe(1);
        expect(count(new RegExp(`^door: no door token within 5000 ms \\(${request.length} bytes\\) from `))).toBe(1);
        expect(await blocked()).toBe(before + 3);
        // The bottle itself still gets through its bridge.
        expect((await c(["exec", slug, "--", ...curl(upstream!.port!)])).stdout).toBe("hello from upstream\n");
        expect((await c(["down", slug])).code).toBe(0);
        expect(containers(slug)).toBe("");
      },
      240_000,
    );

    dockerTest(
      "a kill -9'd bridge: the bottle is cut off (the host listener receives nothing), then the supervisor brings it back",
      async () => {
        const slug = await upDetached(door);
        const port = upstream!.port!;
        const bridge = `claude-bottle-${slug}-bridge`;
        expect((await c(["exec", slug, "--", ...curl(port)])).stdout).toBe("hello from upstream\n");
        const sup = pidOf(slug, "supervisor.pid");
        process.kill(sup, "SIGSTOP");
        try {
          expect(sh(["docker", "kill", "--signal", "KILL", bridge]).code).toBe(0);
          const state = () => sh(["docker", "container", "inspect", "--format", "{{.State.Status}}", bridge]).stdout.trim();
          for (let i = 0; i < 100 && state() !== "exited"; i++) await Bun.sleep(50);
          expect(state()).toBe("exited");
          const hits = upstreamHits;
          // The attempt ran (curl is there, its exit code is a connection
          // failure, not "not found"), and the host side saw nothing of it.
          const cut = await c(["exec", slug, "--", "sh", "-c", `command -v curl >/dev/null || exit 99; ${curl(port).join(" ")}`]);
          expect(cut.code).not.toBe(0);
          expect(cut.code).not.toBe(99);
          expect(cut.stdout).toBe("");
          expect(upstreamHits).toBe(hits);
          const row = (JSON.parse((await c(["ls", "--json"])).stdout) as { slug: string; status: string }[]).find((r) => r.slug === slug);
          expect(row?.status).toBe("door-down");
        } finally {
          process.kill(sup, "SIGCONT");
        }
        expect(await backWithin(slug, port, 30_000)).toBe(true);
        // Removed outright: created anew (with the token the supervisor holds).
        expect(sh(["docker", "rm", "-f", bridge]).code).toBe(0);
        expect(await backWithin(slug, port, 30_000)).toBe(true);
        const events = readFileSync(join(home, "state", slug, "audit.jsonl"), "utf8")
          .split("\n")
          .filter((l) => l.includes('"event":"bridge-'))
          .map((l) => JSON.parse(l).reason as string);
        expect(events).toEqual([`bridge container ${bridge} was exited`, `bridge container ${bridge} was gone`]);
        expect((await c(["down", slug])).code).toBe(0);
        expect(containers(slug)).toBe("");
      },
      240_000,
    );

    dockerTest(
      "a foreground up brings a killed bridge back too, and SIGTERM takes the bridge and its volume away",
      async () => {
        const { p, slug } = await foregroundUp(door);
        const port = upstream!.port!;
        expect((await c(["exec", slug, "--", ...curl(port)])).stdout).toBe("hello from upstream\n");
        expect(sh(["docker", "kill", "--signal", "KILL", `claude-bottle-${slug}-bridge`]).code).toBe(0);
        expect(await backWithin(slug, port, 30_000)).toBe(true);
        expect(readFileSync(join(home, "state", slug, "audit.jsonl"), "utf8")).toContain('"event":"bridge-restarted"');
        p.kill("SIGTERM");
        expect(await p.exited).toBe(143);
        expect(containers(slug)).toBe("");
      },
      240_000,
    );
  });
}
