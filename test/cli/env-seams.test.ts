// The compiled release binary (dist/claude-bottle) cannot be steered by its
// environment or by files in its working directory: no variable chooses
// where the gate connects, which CA it trusts, or which program receives
// the secrets. Each case plants a value and reads the other side (what the
// listener it would have reached actually received), with a control that
// proves the same setup does reach the listener through the legitimate
// channel (the launcher's document on the gate's stdin).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientEnv, makeUpstream, ok, sh } from "../integration/git/harness.ts";
import { multiSanCert } from "../integration/gate/harness.ts";
import { BIN, ensureBuilt } from "./binary.ts";

const HOST = "allowed.test";
const TOKEN = "tok-real-" + crypto.randomUUID();

let dir = "";
let attacker: Awaited<ReturnType<typeof multiSanCert>>;
let arrivals: string[] = [];
let https: ReturnType<typeof Bun.serve>;
let http: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "cb-seams-"));
  // The attacker's upstream: a certificate for the allowed host, signed by
  // a CA only the attacker's planted variables would make trusted.
  attacker = await multiSanCert([HOST], "attacker-ca");
  writeFileSync(join(dir, "attacker-ca.pem"), attacker.caPem);
  mkdirSync(join(dir, "cadir"));
  writeFileSync(join(dir, "cadir", "attacker.pem"), attacker.caPem);
  Bun.spawnSync(["openssl", "rehash", join(dir, "cadir")]);
  const record = (req: Request) => {
    arrivals.push(`${req.method} ${new URL(req.url).pathname} auth=${req.headers.get("authorization") ?? ""}`);
    return new Response("reached\n");
  };
  https = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert: attacker.certPem, key: attacker.keyPem }, fetch: record });
  http = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: record });
});
afterAll(() => {
  https?.stop(true);
  http?.stop(true);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface GateProc {
  port: number;
  stateDir: string;
  stop(): Promise<void>;
}

// The real `claude-bottle gate` of the compiled binary, with exactly `env`
// (plus PATH/HOME) and the launcher's stdin document.
async function startGate(env: Record<string, string>, doc: object, policy: object, cwd = dir): Promise<GateProc> {
  const stateDir = mkdtempSync(join(dir, "state-"));
  chmodSync(stateDir, 0o700);
  writeFileSync(join(stateDir, "policy.json"), JSON.stringify({ version: 1, slug: "seams-abcde", supervise: false, routes: [], git: [], placeholders: {}, ...policy }));
  const p = Bun.spawn([BIN, "gate", "--state", stateDir, "--listen", "127.0.0.1:0"], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  p.stdin.write(JSON.stringify(doc));
  p.stdin.end();
  const reader = p.stdout.getReader();
  let out = "";
  while (!/127\.0\.0\.1:\d+/.test(out)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`gate exited: ${await new Response(p.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return {
    port: Number(/127\.0\.0\.1:(\d+)/.exec(out)![1]),
    stateDir,
    async stop() {
      p.kill("SIGTERM");
      await p.exited;
    },
  };
}

const route = (ports: number[], auth = true) => ({
  routes: [
    {
      host: HOST,
      ports,
      tls: "terminate",
      dlp: "on",
      allow_private: true,
      ...(auth ? { auth: { header: "Authorization", scheme: "Bearer", token_ref: "TOK" } } : {}),
    },
  ],
  placeholders: { TOK: "placeholder-TOK-0000000000" },
});
const secrets = { credentials: { TOK: TOKEN }, secrets: [] };

// curl through the gate; returns the HTTP status curl saw (0: none).
async function viaGate(g: GateProc, url: string): Promise<{ status: number; body: string }> {
  const r = await sh(
    ["curl", "-sS", "-m", "15", "--proxy", `http://127.0.0.1:${g.port}`, "--cacert", join(g.stateDir, "ca", "ca.crt"), "-w", "\n@@%{http_code}", url],
    { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
  );
  const i = r.stdout.lastIndexOf("\n@@");
  return { status: Number(r.stdout.slice(i + 3)), body: r.stdout.slice(0, i) + r.stderr };
}

function audit(g: GateProc): { host: string; decision: string; reason: string | null; status: number | null }[] {
  const f = join(g.stateDir, "audit.jsonl");
  return existsSync(f) ? readFileSync(f, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
}

describe("the compiled binary's gate ignores planted variables", () => {
  test("CLAUDE_BOTTLE_GATE_HOSTS: a planted answer for an allowed host reaches nothing; the stdin answer does", async () => {
    // Plain http (credentials travel only over TLS): the route injects
    // nothing; what is tested is which address the name reaches.
    arrivals = [];
    const planted = await startGate({ CLAUDE_BOTTLE_GATE_HOSTS: `${HOST}=127.0.0.1` }, secrets, route([http.port!], false));
    try {
      const r = await viaGate(planted, `http://${HOST}:${http.port}/planted`);
      // The name does not resolve for the gate: an upstream failure (502),
      // not a policy refusal.
      expect(r.status).toBe(502);
      expect(r.body).toContain(`cannot resolve ${HOST}`);
      // The attempt ran (the gate decided it) and the listener saw nothing.
      expect(audit(planted).some((a) => a.host === HOST && a.decision === "deny")).toBe(true);
      expect(arrivals).toEqual([]);
    } finally {
      await planted.stop();
    }
    const control = await startGate({}, { ...secrets, upstream: { hosts: { [HOST]: "127.0.0.1" } } }, route([http.port!], false));
    try {
      const r = await viaGate(control, `http://${HOST}:${http.port}/control`);
      expect(r.status).toBe(200);
      expect(arrivals).toEqual(["GET /control auth="]);
    } finally {
      await control.stop();
    }
  }, 60_000);

  const caVars = (): [string, Record<string, string>][] => [
    ["CLAUDE_BOTTLE_GATE_EXTRA_CA", { CLAUDE_BOTTLE_GATE_EXTRA_CA: join(dir, "attacker-ca.pem") }],
    ["NODE_EXTRA_CA_CERTS", { NODE_EXTRA_CA_CERTS: join(dir, "attacker-ca.pem") }],
    ["SSL_CERT_FILE", { SSL_CERT_FILE: join(dir, "attacker-ca.pem") }],
    ["SSL_CERT_DIR", { SSL_CERT_DIR: join(dir, "cadir") }],
    ["NODE_TLS_REJECT_UNAUTHORIZED", { NODE_TLS_REJECT_UNAUTHORIZED: "0" }],
  ];
  test("a planted CA (ours or the runtime's) that signs a fake upstream is not trusted; the stdin CA is", async () => {
    // The launcher legitimately maps the name (stdin), so only trust is tested.
    const hostsOnly = { ...secrets, upstream: { hosts: { [HOST]: "127.0.0.1" } } };
    for (const [name, env] of caVars()) {
      arrivals = [];
      const g = await startGate(env, hostsOnly, route([https.port!]));
      try {
        const r = await viaGate(g, `https://${HOST}:${https.port}/${name}`);
        expect({ name, status: r.status }).toEqual({ name, status: 502 });
        expect({ name, arrivals }).toEqual({ name, arrivals: [] });
      } finally {
        await g.stop();
      }
    }
    arrivals = [];
    const control = await startGate({}, { ...secrets, upstream: { hosts: { [HOST]: "127.0.0.1" }, ca: attacker.caPem } }, route([https.port!]));
    try {
      const r = await viaGate(control, `https://${HOST}:${https.port}/control`);
      expect(r.status).toBe(200);
      expect(arrivals).toEqual([`GET /control auth=Bearer ${TOKEN}`]);
    } finally {
      await control.stop();
    }
  }, 90_000);

  test("CLAUDE_BOTTLE_SELF: a planted program never runs as the git hook; the real hook does", async () => {
    const mark = join(dir, "self-ran");
    const fake = join(dir, "fake-self.sh");
    writeFileSync(fake, `#!/bin/sh\necho "ran $*" >> ${mark}\ncat >> ${mark}\nenv >> ${mark}\nexit 0\n`, { mode: 0o755 });
    const work = mkdtempSync(join(dir, "git-"));
    const env = clientEnv(work);
    const upstream = await makeUpstream(work, env);
    const g = await startGate({ CLAUDE_BOTTLE_SELF: fake }, secrets, { git: [{ name: "origin", url: upstream, allow_force: false, allow_delete: false }] });
    try {
      const proxy = { ...env, http_proxy: `http://127.0.0.1:${g.port}`, NO_PROXY: "", no_proxy: "" };
      const clone = join(work, "clone");
      await ok(sh(["git", "clone", "-q", "http://git.bottle.internal/origin.git", clone], { env: proxy }), "clone via gate");
      writeFileSync(join(clone, "f.txt"), "x\n");
      await ok(sh(["git", "add", "."], { cwd: clone, env }), "add");
      await ok(sh(["git", "commit", "-qm", "f"], { cwd: clone, env }), "commit");
      const head = (await sh(["git", "rev-parse", "HEAD"], { cwd: clone, env })).stdout.trim();
      await ok(sh(["git", "push", "-q", "origin", "main"], { cwd: clone, env: proxy }), "push via gate");
      // The real hook forwarded the push upstream; the planted one never ran.
      const up = await sh(["git", "-C", upstream, "rev-parse", "refs/heads/main"], { env });
      expect(up.stdout.trim()).toBe(head);
      expect(existsSync(mark)).toBe(false);
    } finally {
      await g.stop();
    }
  }, 60_000);
});

describe("the compiled binary ignores its working directory's .env and bunfig.toml", () => {
  test(".env cannot set our variables; bunfig.toml cannot preload code", async () => {
    const cwd = mkdtempSync(join(dir, "repo-"));
    const home = mkdtempSync(join(dir, "home-"));
    const planted = join(dir, "planted-home");
    const preloaded = join(dir, "preloaded");
    writeFileSync(join(cwd, ".env"), `CLAUDE_BOTTLE_HOME=${planted}\n`);
    writeFileSync(join(cwd, "pre.js"), `require("node:fs").writeFileSync(${JSON.stringify(preloaded)}, "x");\n`);
    writeFileSync(join(cwd, "bunfig.toml"), `preload = ["./pre.js"]\n`);
    const p = Bun.spawnSync([BIN, "init"], { cwd, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home }, stdout: "pipe", stderr: "pipe" });
    expect(p.exitCode).toBe(0);
    // The command ran, in the real home.
    expect(p.stdout.toString()).toContain(`wrote ${join(home, ".claude-bottle")}`);
    expect(existsSync(planted)).toBe(false);
    expect(existsSync(preloaded)).toBe(false);
  });
});
