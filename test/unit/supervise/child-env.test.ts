import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnGate } from "../../../src/supervise/gate.ts";
import { spawnSupervisor } from "../../../src/supervise/supervisor.ts";

// The gate and its supervisor hold the credentials: they start with an
// allowlisted environment (src/child-env.ts) in the state dir, whatever the
// launcher's shell had. Each planted variable below moves trust, routing or
// the program itself when a Bun or git process inherits it.
const PLANTED: Record<string, string> = {
  NODE_EXTRA_CA_CERTS: "/tmp/attacker-ca.pem",
  SSL_CERT_FILE: "/tmp/attacker-ca.pem",
  SSL_CERT_DIR: "/tmp/attacker-certs",
  NODE_TLS_REJECT_UNAUTHORIZED: "0",
  BUN_OPTIONS: "--preload /tmp/evil.js",
  BUN_BE_BUN: "1",
  HTTPS_PROXY: "http://127.0.0.1:9",
  http_proxy: "http://127.0.0.1:9",
  ALL_PROXY: "http://127.0.0.1:9",
  GIT_SSL_NO_VERIFY: "1",
  GIT_SSL_CAINFO: "/tmp/attacker-ca.pem",
  GIT_CONFIG_COUNT: "1",
  GIT_CONFIG_KEY_0: "url.https://evil.example/.insteadOf",
  GIT_CONFIG_VALUE_0: "https://github.com/",
  CLAUDE_BOTTLE_GATE_HOSTS: "github.com=127.0.0.1",
  CLAUDE_BOTTLE_SELF: "/tmp/evil",
  LD_PRELOAD: "/tmp/evil.so",
};

const dirs: string[] = [];
const saved: Record<string, string | undefined> = {};
beforeAll(() => {
  for (const [k, v] of Object.entries(PLANTED)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const d = realpathSync(mkdtempSync(join(tmpdir(), "cb-childenv-")));
  dirs.push(d);
  return d;
}

async function waitFor(file: string): Promise<string> {
  for (let i = 0; i < 200 && !existsSync(file); i++) await Bun.sleep(25);
  await Bun.sleep(50);
  return readFileSync(file, "utf8");
}

// `env -0`-free dump: one NAME per line, then the working directory.
const dump = (out: string, extra = "") => ["/bin/sh", "-c", `env | cut -d= -f1 > ${out}.tmp; pwd >> ${out}.tmp; ${extra} mv ${out}.tmp ${out}`];

function check(text: string, dir: string): void {
  const lines = text.trim().split("\n");
  const cwd = lines.pop();
  const names = new Set(lines);
  expect(cwd).toBe(dir);
  for (const k of Object.keys(PLANTED)) expect({ k, passed: names.has(k) }).toEqual({ k, passed: false });
  // What it needs does pass.
  expect(names.has("PATH")).toBe(true);
}

test("spawnGate: planted variables do not reach the gate; it runs in the state dir", async () => {
  const dir = stateDir();
  const out = join(dir, "env.txt");
  // (LD_PRELOAD of a missing file only makes the loader warn.)
  await spawnGate({ stateDir: dir, secrets: { credentials: {}, secrets: [] }, command: dump(out) });
  check(await waitFor(out), dir);
});

test("spawnSupervisor: planted variables do not reach the supervisor", async () => {
  const dir = stateDir();
  const out = join(dir, "env.txt");
  // Ready once it writes supervisor.pid (what the real one does).
  const pid = await spawnSupervisor({ stateDir: dir, secrets: { credentials: {}, secrets: [] }, command: dump(out, `echo $$ > ${dir}/supervisor.pid;`) });
  expect(pid).toBeGreaterThan(0);
  check(await waitFor(out), dir);
});
