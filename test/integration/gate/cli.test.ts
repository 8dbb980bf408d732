import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { policyOf, route, startUpstreams, type Upstreams } from "./harness.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

// The real `claude-bottle gate` process: secrets on stdin, policy.json,
// gate.pid, the unix socket, SIGHUP through `claude-bottle allow`/`deny`,
// `claude-bottle logs`, SIGTERM. Secrets must not land in any state file.

const CLI = join(import.meta.dir, "../../../src/cli.ts");
const SECRET = "cli-secret-Zr8Qw3Lp5Nt7Kv2";
const TOKEN = "sk-ant-api03-RealValueForTheCliTest0123456789";

let home: string;
let stateDir: string;
let up: Upstreams;
let gate: ReturnType<typeof Bun.spawn>;
let port: number;

function run(args: string[]) {
  const p = Bun.spawnSync([process.execPath, CLI, ...args], { env: { ...process.env, CLAUDE_BOTTLE_HOME: home } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

async function viaUnix(req: string): Promise<string> {
  const s = net.connect(join(stateDir, "sock", "gate.sock"));
  await new Promise((r) => s.once("connect", r));
  s.write(req);
  let out = "";
  s.on("data", (d) => (out += d.toString()));
  await new Promise((r) => s.once("close", r));
  return out;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "cb-gate-cli-"));
  stateDir = join(home, "state", "cli-abcde");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  up = await startUpstreams(home);
  writeFileSync(
    join(stateDir, "policy.json"),
    JSON.stringify({ ...policyOf([route("up.test", { ports: [up.httpPort] })]), slug: "cli-abcde" }),
  );
  gate = Bun.spawn([process.execPath, CLI, "gate", "--state", stateDir, "--listen", "127.0.0.1:0"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  (gate.stdin as import("bun").FileSink).write(
    JSON.stringify({
      credentials: { ANTHROPIC_API_KEY: TOKEN },
      secrets: [{ name: "S", value: SECRET }],
      upstream: { ca: readFileSync(up.caPath, "utf8") },
    }),
  );
  (gate.stdin as import("bun").FileSink).end();
  const reader = (gate.stdout as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  port = Number(/127\.0\.0\.1:(\d+)/.exec(new TextDecoder().decode(value))![1]);
});
afterAll(async () => {
  if (gate.exitCode === null) gate.kill("SIGTERM");
  await gate.exited;
  up.close();
  rmSync(home, { recursive: true, force: true });
});

// localhost is a real name (resolves to loopback); the gate process has no
// test resolver, so routes use localhost with allow_private.
describe("claude-bottle gate (process)", () => {
  test("serves the unix socket and the --listen port; writes gate.pid", async () => {
    expect(readFileSync(join(stateDir, "gate.pid"), "utf8").trim()).toBe(String(gate.pid));
    expect(statSync(join(stateDir, "sock", "gate.sock")).isSocket()).toBe(true);
    const r = await viaUnix(`GET http://nope.test/ HTTP/1.1\r\nHost: nope.test\r\nConnection: close\r\n\r\n`);
    expect(r).toStartWith("HTTP/1.1 403 ");
    expect(r).toContain("blocked: host not in allowlist: nope.test");
    expect(readdirSync(join(stateDir, "sock"))).toEqual(["gate.sock"]);
  });

  test("allow / deny change the running gate's policy (SIGHUP) and persist", async () => {
    const req = `GET http://localhost:${up.httpPort}/via-allow HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
    expect(await viaUnix(req)).toStartWith("HTTP/1.1 403 ");
    // allow adds a route without allow_private: the SSRF layer still refuses loopback.
    const a = run(["allow", "cli-abcde", "localhost", "--methods", "GET", "--ports", String(up.httpPort)]);
    expect(a.code).toBe(0);
    expect(a.out).toContain(`allowed localhost (GET); gate ${gate.pid} reloaded`);
    await Bun.sleep(200);
    const r = await viaUnix(req);
    expect(r).toStartWith("HTTP/1.1 403 ");
    expect(r).toContain("blocked: localhost resolves to");
    // Edit the persisted route to allow private addresses, reload by SIGHUP.
    const p = JSON.parse(readFileSync(join(stateDir, "policy.json"), "utf8"));
    expect(p.routes.at(-1)).toEqual({ host: "localhost", ports: [up.httpPort], methods: ["GET"], tls: "terminate", dlp: "on", allow_private: false });
    p.routes.at(-1).allow_private = true;
    writeFileSync(join(stateDir, "policy.json"), JSON.stringify(p));
    process.kill(gate.pid, "SIGHUP");
    await Bun.sleep(200);
    expect(await viaUnix(req)).toStartWith("HTTP/1.1 200 ");
    const d = run(["deny", "cli-abcde", "localhost"]);
    expect(d.code).toBe(0);
    expect(d.out).toContain("denied localhost (1 route removed)");
    await Bun.sleep(200);
    expect(await viaUnix(req)).toStartWith("HTTP/1.1 403 ");
    expect(JSON.parse(readFileSync(join(stateDir, "policy.json"), "utf8")).routes.map((x: { host: string }) => x.host)).toEqual(["up.test"]);
    const bad = run(["deny", "no-such-abcde", "x.com"]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("no bottle 'no-such-abcde'");
  });

  test("secrets given on stdin are enforced and never written to the state dir", async () => {
    const r = await viaUnix(`GET http://nope.test/?k=${SECRET} HTTP/1.1\r\nHost: nope.test\r\nConnection: close\r\n\r\n`);
    expect(r).toContain("blocked: dlp: secret:S in query");
    const t = await viaUnix(`GET http://nope.test/ HTTP/1.1\r\nHost: nope.test\r\nX-K: ${TOKEN}\r\nConnection: close\r\n\r\n`);
    expect(t).toStartWith("HTTP/1.1 403 ");
    const walk = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(d, e.name)) : e.isFile() ? [join(d, e.name)] : [],
      );
    for (const f of walk(stateDir)) {
      const text = readFileSync(f, "latin1");
      expect(text.includes(SECRET)).toBe(false);
      expect(text.includes(TOKEN)).toBe(false);
    }
    expect(statSync(join(stateDir, "ca", "ca.key")).mode & 0o777).toBe(0o600);
  });

  test("claude-bottle logs prints a table or JSON lines", () => {
    const t = run(["logs", "cli-abcde"]);
    expect(t.code).toBe(0);
    const lines = t.out.trim().split("\n");
    expect(lines[0]).toContain("decision");
    expect(lines.some((l) => /DENY\s+403\s+GET\s+nope\.test\s+\/\s+\(policy: host not in allowlist: nope\.test\)/.test(l))).toBe(true);
    expect(lines.some((l) => /allow\s+200\s+GET\s+localhost:\d+\s+\/via-allow/.test(l))).toBe(true);
    const j = run(["logs", "cli-abcde", "--json"]);
    const recs = j.out.trim().split("\n").map((l) => JSON.parse(l));
    expect(recs.length).toBe(lines.length - 1);
    expect(recs.every((r) => r.bottle === "cli-abcde")).toBe(true);
  });

  test("logs -f follows new lines", async () => {
    const p = Bun.spawn([process.execPath, CLI, "logs", "cli-abcde", "-f", "--json"], {
      stdout: "pipe",
      env: { ...process.env, CLAUDE_BOTTLE_HOME: home },
    });
    await Bun.sleep(400);
    await viaUnix(`GET http://followed.test/ HTTP/1.1\r\nHost: followed.test\r\nConnection: close\r\n\r\n`);
    const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
    let out = "";
    const deadline = Date.now() + 3000;
    while (!out.includes("followed.test") && Date.now() < deadline) {
      const r = await Promise.race([reader.read(), Bun.sleep(3000).then(() => ({ value: undefined, done: true }))]);
      if (r.done || !r.value) break;
      out += new TextDecoder().decode(r.value);
    }
    p.kill();
    expect(out).toContain('"host":"followed.test"');
    // SIGTERM ends --follow normally: exit 0, nothing left keeping it alive.
    expect(await p.exited).toBe(0);
  });

  test("SIGTERM stops the gate and removes its socket", async () => {
    expect(existsSync(join(stateDir, "sock", "gate.sock"))).toBe(true);
    gate.kill("SIGTERM");
    expect(await gate.exited).toBe(0);
    expect(existsSync(join(stateDir, "sock", "gate.sock"))).toBe(false);
  });
});
