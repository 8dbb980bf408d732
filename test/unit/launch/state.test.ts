import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acquireLock, claimStateDir } from "../../../src/state/lock.ts";
import { readMetadata, writeMetadata, type Metadata } from "../../../src/state/metadata.ts";
import { paths } from "../../../src/state/paths.ts";
import { ownedBy, ownedGate } from "../../../src/state/process.ts";

const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});
const home = () => {
  const h = mkdtempSync(join(tmpdir(), "cb-state-"));
  homes.push(h);
  return h;
};

test("claimStateDir creates 0700 dirs and re-mints on a collision", () => {
  const h = home();
  const a = claimStateDir(h, "x-aaaaa");
  expect(statSync(a.stateDir).mode & 0o777).toBe(0o700);
  const b = claimStateDir(h, "x-aaaaa", () => "x-bbbbb");
  expect(b.slug).toBe("x-bbbbb");
  expect(() => claimStateDir(h, "x-aaaaa")).toThrow(/already exists/);
});

test("the lock is exclusive while its holder lives, and stale after it dies", () => {
  const h = home();
  const { stateDir } = claimStateDir(h, "x-ccccc");
  const l = acquireLock(stateDir);
  // Another live process holding it (our parent stands in for one).
  expect(() => acquireLock(stateDir, process.ppid)).toThrow(/in use by process/);
  l.release();
  l.release();
  // A dead holder's lock is taken over.
  writeFileSync(paths.lock(stateDir), "999999\n");
  const l2 = acquireLock(stateDir);
  l2.release();
});

test("metadata round-trips and rejects garbage", () => {
  const h = home();
  const { stateDir } = claimStateDir(h, "x-ddddd");
  const m: Metadata = {
    version: 1,
    slug: "x-ddddd",
    agent: "x",
    bottle: "b",
    backend: "docker",
    cwd: "/w",
    workspace: { mode: "copy", path: "/w" },
    started_at: new Date(0).toISOString(),
    status: "running",
    detached: true,
    owner_pid: 5,
    exit_code: null,
  };
  writeMetadata(stateDir, m);
  expect(readMetadata(stateDir)).toEqual(m);
  expect(statSync(paths.metadata(stateDir)).mode & 0o777).toBe(0o600);
  writeFileSync(paths.metadata(stateDir), "{not json");
  expect(readMetadata(stateDir)).toBeNull();
});

test("ownedBy only matches a live process whose argv names the marker as a whole word", async () => {
  const p = Bun.spawn(["sh", "-c", "sleep 5; :", "sh", "/tmp/state/a-abcde"], { stdout: "ignore" });
  try {
    // Until exec completes, /proc shows the parent's command line.
    for (let i = 0; i < 100 && !ownedBy(p.pid, "/tmp/state/a-abcde"); i++) await Bun.sleep(10);
    expect(ownedBy(p.pid, "/tmp/state/a-abcde")).toBe(true);
    expect(ownedBy(p.pid, "/tmp/state/a-abcd")).toBe(false);
    expect(ownedBy(p.pid, "/tmp/state/a-abcdef")).toBe(false);
  } finally {
    p.kill();
  }
});

test("ownedGate matches the bottle's gate, not its supervisor nor another bottle's gate", async () => {
  const spawn = (sub: string, dir: string) => Bun.spawn(["sh", "-c", "sleep 5; :", "sh", sub, "--state", dir], { stdout: "ignore" });
  const gate = spawn("gate", "/tmp/state/a-abcde");
  const sup = spawn("supervise-gate", "/tmp/state/a-abcde");
  try {
    for (let i = 0; i < 100 && !ownedGate(gate.pid, "/tmp/state/a-abcde"); i++) await Bun.sleep(10);
    expect(ownedGate(gate.pid, "/tmp/state/a-abcde")).toBe(true);
    // A relative spelling of the same dir is the same gate.
    expect(ownedGate(gate.pid, "/tmp/state/../state/a-abcde")).toBe(true);
    expect(ownedGate(gate.pid, "/tmp/state/b-abcde")).toBe(false);
    for (let i = 0; i < 100 && !ownedBy(sup.pid, "/tmp/state/a-abcde"); i++) await Bun.sleep(10);
    expect(ownedGate(sup.pid, "/tmp/state/a-abcde")).toBe(false);
  } finally {
    gate.kill();
    sup.kill();
  }
});
