// allow, deny and approve tell a running gate to reload (SIGHUP). A
// pidfile outlives its gate and the pid can be reused by anything: with a
// stale gate.pid naming a live unrelated process, that process must not be
// signalled (SIGHUP ends most programs), and the command must say the
// change applies when the gate starts. The control: the same commands do
// signal a process that is this bottle's gate.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequest } from "../../src/requests/store.ts";
import { BIN, ensureBuilt, runBin } from "./binary.ts";

const SLUG = "stale-ab12c";
let home = "";
let stateDir = "";
const procs: ReturnType<typeof Bun.spawn>[] = [];

beforeAll(() => {
  ensureBuilt();
  home = mkdtempSync(join(tmpdir(), "cb-stalepid-"));
  stateDir = join(home, "state", SLUG);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(stateDir, "policy.json"),
    JSON.stringify({ version: 1, slug: SLUG, routes: [], git: [], supervise: true, placeholders: {} }),
  );
});
afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  rmSync(home, { recursive: true, force: true });
});

const run = (args: string[]) => runBin(args, { env: { CLAUDE_BOTTLE_HOME: home, HOME: home } });
const alive = (p: ReturnType<typeof Bun.spawn>) => p.exitCode === null && p.signalCode === null;

function egressRequest(host: string): string {
  return createRequest(home, { kind: "egress", slug: SLUG, justification: "test", egress: { host, ports: [443], methods: null, paths: null } }, 60_000).id;
}

test("a stale gate.pid naming an unrelated live process: nothing is signalled", async () => {
  const sleeper = Bun.spawn(["sleep", "600"], { stdout: "ignore", stderr: "ignore" });
  procs.push(sleeper);
  writeFileSync(join(stateDir, "gate.pid"), `${sleeper.pid}\n`);

  const allow = await run(["allow", SLUG, "a.example.com"]);
  expect(allow.code).toBe(0);
  expect(allow.stdout).toContain("takes effect when the bottle's gate starts");
  const deny = await run(["deny", SLUG, "a.example.com"]);
  expect(deny.code).toBe(0);
  expect(deny.stdout).toContain("takes effect when the bottle's gate starts");
  const approve = await run(["approve", egressRequest("b.example.com")]);
  expect(approve.code).toBe(0);
  expect(approve.stdout).toContain("takes effect when the bottle's gate starts");

  await Bun.sleep(200);
  expect(alive(sleeper)).toBe(true);
}, 60_000);

// The pid's command line is how a gate is recognised. An unrelated process
// may name the bottle's state folder in an argument of its own (a search
// for it, an editor, a shell script): its words joined with spaces read as
// the gate's, so the arguments are compared one by one.
test("a stale gate.pid naming a live process that only mentions the state folder: nothing is signalled", async () => {
  const { realpathSync } = await import("node:fs");
  const abs = realpathSync(stateDir);
  for (const [host, argv] of [
    ["d.example.com", ["sh", "-c", "sleep 600", "searcher", `gate --state ${abs}`]],
    ["e.example.com", ["sh", "-c", "sleep 600", `x gate`, "--state", abs]],
  ] as const) {
    const other = Bun.spawn([...argv], { stdout: "ignore", stderr: "ignore" });
    procs.push(other);
    writeFileSync(join(stateDir, "gate.pid"), `${other.pid}\n`);
    const allow = await run(["allow", SLUG, host]);
    expect(allow.code).toBe(0);
    expect(allow.stdout).toContain("takes effect when the bottle's gate starts");
    await Bun.sleep(200);
    expect(alive(other)).toBe(true);
  }
}, 60_000);

test("the control: a live process that is this bottle's gate is signalled", async () => {
  // A stand-in with the gate's command line that counts SIGHUPs.
  const count = join(stateDir, "hups");
  const fake = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures", "hup-counter.ts"), "gate", "--state", stateDir], {
    stdout: "ignore",
    stderr: "ignore",
  });
  procs.push(fake);
  await Bun.sleep(300);
  writeFileSync(join(stateDir, "gate.pid"), `${fake.pid}\n`);
  const allow = await run(["allow", SLUG, "c.example.com"]);
  expect(allow.stdout).toContain(`gate ${fake.pid} reloaded`);
  const approve = await run(["approve", egressRequest("d.example.com")]);
  expect(approve.stdout).toContain(`gate ${fake.pid} reloaded`);
  await Bun.sleep(300);
  expect((await Bun.file(count).text()).trim().split("\n")).toEqual(["hup", "hup"]);
  expect(alive(fake)).toBe(true);
}, 60_000);
