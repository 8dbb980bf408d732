import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSmolmachinesBackend } from "../../../src/backends/smolmachines/index.ts";
import type { Backend, Bottle } from "../../../src/backends/types.ts";
import { UserError } from "../../../src/errors.ts";
import { FAKE_SMOLVM, fake, fakeImage, makeCtx, makePlan, makeSpec, makeWorld, standInGate, type World } from "./helpers.ts";

// The whole backend against the fake smolvm: launch (image, Smolfile,
// create with --mount-socket and labels, start, ready-wait on the relay),
// exec/run with exit codes, the gate reached only through the mounted
// socket, secrets kept off argv and out of state, stop, remove, list.

const SECRET_VALUE = "s3cr3t-VALUE-never-on-argv-7f1c";
const NASTY = `quote " apostrophe ' space  newline\nbackslash \\ tab\tend`;

let world: World;
let backend: Backend;
let bottle: Bottle;
let gate: ReturnType<typeof standInGate>;
const slug = "dev-ab12c";
let stateDir: string;
let scratch: string;

beforeAll(async () => {
  world = makeWorld();
  stateDir = join(world.home, "state", slug);
  mkdirSync(join(stateDir, "sock"), { recursive: true, mode: 0o700 });
  scratch = join(world.root, "scratch");
  mkdirSync(scratch);
  gate = standInGate(join(stateDir, "sock", "gate.sock"));
  const hostEnv: Record<string, string | undefined> = { ...world.env, MY_SECRET: SECRET_VALUE, SMOLVM_EGRESS_FLOOR: "off", SMOLVM_KEEP_ME: "1" };
  backend = createSmolmachinesBackend({ home: world.home, smolvmBin: FAKE_SMOLVM, hostEnv, readyTimeoutMs: 15_000 });
  const spec = makeSpec({ image: fakeImage(world) });
  bottle = await backend.launch(spec, makePlan(slug, stateDir, spec), makeCtx(stateDir, join(stateDir, "sock", "gate.sock"), { NASTY, HTTP_PROXY: "http://127.0.0.1:3128", http_proxy: "http://127.0.0.1:3128" }, ["MY_SECRET"]));
  // The launcher removes secrets from its env after launch; so do we.
  delete hostEnv.MY_SECRET;
}, 30_000);

afterAll(() => {
  gate?.stop();
  world?.cleanup();
});

describe("smolmachines backend on the fake smolvm", () => {
  test("the machine is created from a rendered Smolfile with the mount socket and labels, and runs", async () => {
    const log = readFileSync(join(world.fakeState, "argv.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as string[]);
    const create = log.find((a) => a[1] === "create") as string[];
    expect(create).toContain("--mount-socket");
    expect(create[create.indexOf("--mount-socket") + 1]).toBe(`${join(stateDir, "sock", "gate.sock")}:/run/claude-bottle/gate.sock`);
    expect(create).toContain("claude-bottle.slug=dev-ab12c");
    expect(create).toContain("claude-bottle=1");
    const smolfile = readFileSync(join(stateDir, "smolvm", "Smolfile"), "utf8");
    expect(smolfile).not.toMatch(/^\s*(net|image)\s*=|\[network\]/m);
    expect(statSync(join(stateDir, "smolvm", "Smolfile")).mode & 0o777).toBe(0o600);
    const list = await backend.list();
    expect(list).toEqual([{ slug, backend: "smolmachines", status: "running", name: "claude-bottle-dev-ab12c" }]);
  });

  test("run captures output and passes the guest's exit code through", async () => {
    const r = await bottle.run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
    expect((await bottle.run(["sh", "-c", "exit 1"])).code).toBe(1); // guest exit 1 is not a smolvm error
    expect((await bottle.run(["cat"], { input: "from stdin" })).stdout).toBe("from stdin");
  });

  test("exec returns the guest's exit code", async () => {
    expect(await bottle.exec(["sh", "-c", "exit 42"])).toBe(42);
    expect(await bottle.exec(["true"])).toBe(0);
    // The agent's path: -i -t, relay probe under the lock, then the session.
    expect(await bottle.exec(["sh", "-c", "exit 5"], { tty: true, stdin: true })).toBe(5);
    const log = readFileSync(join(world.fakeState, "argv.log"), "utf8");
    expect(log).toContain(JSON.stringify(["machine", "exec", "--name", "claude-bottle-dev-ab12c", "-i", "-t", "--secret-env", "MY_SECRET=MY_SECRET", "--", "sh", "-c", "exit 5"]));
  });

  test("env values with quotes, spaces and newlines arrive intact", async () => {
    const r = await bottle.run(["printenv", "NASTY"]);
    expect(r.stdout).toBe(`${NASTY}\n`);
  });

  test("the gate is reachable through the relay and the mounted socket", async () => {
    const before = gate.requests.length;
    const viaRelay = await bottle.run(["curl", "-sS", "--max-time", "5", "http://example.internal/hello"]);
    expect(viaRelay.stdout).toBe("gate-ok GET http://example.internal/hello");
    const direct = await bottle.run(["curl", "-sS", "--max-time", "5", "--unix-socket", "/run/claude-bottle/gate.sock", "http://x.internal/direct"]);
    expect(direct.stdout).toBe("gate-ok GET http://x.internal/direct");
    expect(gate.requests.length).toBe(before + 2);
  });

  test("the guest cannot reach the host's 127.0.0.1 over TCP", async () => {
    let accepted = 0;
    const host = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void accepted++, data() {} } });
    try {
      // Sanity: the port is reachable from the host itself.
      const probe = await Bun.connect({ hostname: "127.0.0.1", port: host.port, socket: { data() {} } });
      probe.end();
      const before = accepted;
      const r = await bottle.run(["curl", "-sS", "--noproxy", "*", "--max-time", "3", `http://127.0.0.1:${host.port}/`]);
      expect(r.code).toBe(7); // curl: couldn't connect
      expect(accepted).toBe(before);
      const ifaces = await bottle.run(["ip", "-o", "link"]);
      expect(ifaces.stdout.trim().split("\n").map((l) => l.split(":")[1]?.trim())).toEqual(["lo"]);
    } finally {
      host.stop(true);
    }
  });

  test("secrets reach the guest by reference, never on smolvm's argv or in any state file", async () => {
    const r = await bottle.run(["printenv", "MY_SECRET"]);
    expect(r.stdout).toBe(`${SECRET_VALUE}\n`);
    const argvLog = readFileSync(join(world.fakeState, "argv.log"), "utf8");
    expect(argvLog).toContain("MY_SECRET=MY_SECRET");
    expect(argvLog).not.toContain(SECRET_VALUE);
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.isFile() ? [join(dir, d.name)] : []));
    for (const f of [...files(world.fakeState), ...files(stateDir)]) {
      expect(readFileSync(f).toString("latin1")).not.toContain(SECRET_VALUE);
    }
  });

  test("smolvm is spawned without SMOLVM_EGRESS_* (set in our env), other variables pass", async () => {
    expect((await bottle.run(["true"])).code).toBe(0);
    const lines = readFileSync(join(world.fakeState, "env.log"), "utf8").trim().split("\n");
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(JSON.parse(l)).not.toContain("SMOLVM_EGRESS_FLOOR");
    expect(lines.map((l) => JSON.parse(l) as string[]).some((names) => names.includes("SMOLVM_KEEP_ME"))).toBe(true);
  });

  test("concurrent runs on one machine are serialized by the per-machine lock", async () => {
    const marker = join(scratch, "inflight");
    const script = `set -C; : > ${marker} || exit 99; sleep 0.05; rm -f ${marker}`;
    const codes = await Promise.all([1, 2, 3, 4].map(() => bottle.run(["sh", "-c", script]).then((r) => r.code)));
    expect(codes).toEqual([0, 0, 0, 0]);
  });

  test("attach finds the machine; stop, then exec is smolvm's error (not a guest exit 1); remove; list is empty", async () => {
    const again = await backend.attach(slug);
    expect(again).not.toBeNull();
    expect(await backend.attach("nope-zzzzz")).toBeNull();
    await again!.stop();
    expect((await backend.list())[0]?.status).toBe("stopped");
    const err = await bottle.run(["true"]).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain("is not running");
    await again!.remove();
    await again!.remove(); // idempotent
    expect(await backend.list()).toEqual([]);
    expect(fake(world, ["machine", "ls", "--json"]).stdout.trim()).toBe("[]");
  });
});
