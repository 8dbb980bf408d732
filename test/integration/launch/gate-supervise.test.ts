import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { doorHello, newDoorToken } from "../../../src/gate/door.ts";
import { freePort } from "../../../src/launch/door.ts";
import { gateInputs } from "../../../src/launch/inputs.ts";
import { makePlaceholder } from "../../../src/gate/credentials.ts";
import { spawnGate, stopGate } from "../../../src/supervise/gate.ts";
import { waitForGate } from "../../../src/supervise/probe.ts";
import { watchGate } from "../../../src/supervise/watcher.ts";
import { paths } from "../../../src/state/paths.ts";
import { isAlive, readPid } from "../../../src/state/process.ts";
import type { Spec } from "../../../src/manifest/spec.ts";
import { multiSanCert } from "../gate/harness.ts";

// The real gate process (`claude-bottle gate`) under the launcher's spawn and
// the watcher: readiness, a proxied request to a loopback upstream, kill -9,
// fail closed, restart with the same secrets, and no audit noise from probes.
// Once through its unix socket, once through its TCP door (the bridge
// door's way in): the restarted gate listens on the same port and takes the
// same token, which only the GateSecrets on its stdin carried.

const dirs: string[] = [];
let upstream: ReturnType<typeof Bun.serve>;
let upstreamCa = "";
const seen: string[] = [];

beforeAll(async () => {
  // HTTPS: the gate injects a credential only over TLS it verified. The
  // launcher hands the gate this upstream's CA (GateSecrets.upstream), as
  // `claude-bottle selftest` does for its recording upstream.
  const c = await multiSanCert(["localhost"]);
  upstreamCa = c.caPem;
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: c.certPem, key: c.keyPem },
    fetch: (req) => {
      seen.push(req.headers.get("authorization") ?? "");
      return new Response("upstream ok\n");
    },
  });
});
afterAll(async () => {
  for (const dir of dirs) await stopGate(dir);
  upstream.stop(true);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// Where a client reaches the gate: its unix socket, or its TCP door with the
// hello sent first.
type Way = { path: string } | { host: string; port: number; hello: Buffer };

// One request through the gate: CONNECT, TLS with the bottle's CA, the
// request inside. Null: refused or cut off before any answer.
function viaGate(dir: string, way: Way, url: string, headers: Record<string, string> = {}): Promise<string | null> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    let buf = "";
    let settled = false;
    const done = (v: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      raw.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(null), 5000);
    const raw = "path" in way ? net.connect({ path: way.path }) : net.connect({ host: way.host, port: way.port });
    raw.on("error", () => done(null));
    raw.once("connect", () => {
      if ("hello" in way) raw.write(way.hello);
      raw.write(`CONNECT ${u.host} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
    });
    let head = "";
    const onHead = (d: Buffer) => {
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      raw.off("data", onHead);
      if (!head.startsWith("HTTP/1.1 200")) return done(head);
      const ca = readFileSync(join(paths.caDir(dir), "ca.crt"), "utf8");
      const s = tls.connect({ socket: raw, ca, host: u.hostname, ALPNProtocols: ["http/1.1"] });
      s.on("error", () => done(buf || null));
      s.once("secureConnect", () => s.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\n${extra}Connection: close\r\n\r\n`));
      s.on("data", (d: Buffer) => (buf += d.toString()));
      s.on("close", () => done(buf || null));
    };
    raw.on("data", onHead);
    raw.on("close", () => done(buf || null));
  });
}

for (const door of ["unix socket", "TCP door"] as const) test(`real gate (${door}): ready, proxies with the credential, dies, stays shut, comes back with the same secrets`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "cb-gate-sup-"));
  dirs.push(dir);
  const spec: Spec = {
    agent: "itest",
    bottle: "itest",
    sources: { agent: "<test>", bottle: "<test>" },
    prompt: "",
    env: [],
    egress: [
      {
        host: "127.0.0.1",
        ports: [upstream.port!],
        tls: "terminate",
        dlp: "on",
        allow_private: true,
        auth: { header: "Authorization", scheme: "Bearer", token_ref: "ITEST_TOKEN" },
      },
    ],
    git: [],
    skills: [],
    resources: {},
    supervise: false,
    workspace: { mode: "none", path: null },
  };
  const real = "itest-real-token-0123456789";
  const gi = gateInputs({ slug: "itest-aaaaa", spec, resolved: { values: {} }, hostEnv: { ITEST_TOKEN: real }, makePlaceholder });
  writeFileSync(paths.policy(dir), JSON.stringify(gi.policy));
  const placeholder = gi.agentEnv.ITEST_TOKEN!;
  const sock = paths.gateSocket(dir);
  const url = `https://127.0.0.1:${upstream.port}/x`;
  const token = newDoorToken();
  const listen = { host: "127.0.0.1", port: await freePort("127.0.0.1") };
  const secrets = { ...gi.secrets, upstream: { ca: upstreamCa }, ...(door === "TCP door" ? { door: { listen, token } } : {}) };
  const way: Way = door === "TCP door" ? { ...listen, hello: doorHello(token) } : { path: sock };

  const g = await spawnGate({ stateDir: dir, secrets });
  const ready = await waitForGate(sock, { timeoutMs: 20_000, stillWorth: () => isAlive(g.pid) });
  if (!ready) throw new Error(`gate did not start: ${readFileSync(paths.gateOut(dir), "utf8").slice(-500)}`);
  // Readiness probing wrote no audit line.
  expect(existsSync(paths.audit(dir)) ? readFileSync(paths.audit(dir), "utf8") : "").toBe("");

  const first = await viaGate(dir, way, url, { Authorization: `Bearer ${placeholder}` });
  expect(first).toContain("upstream ok");
  expect(seen.at(-1)).toBe(`Bearer ${real}`);

  process.kill(g.pid, "SIGKILL");
  for (let i = 0; i < 100 && isAlive(g.pid); i++) await Bun.sleep(20);
  // No gate, no way out: refused (null) or cut off without any response.
  expect((await viaGate(dir, way, url)) ?? "").toBe("");

  const w = watchGate({ slug: "itest-aaaaa", stateDir: dir, secrets, intervalMs: 200 });
  try {
    const t0 = Date.now();
    let again: string | null = null;
    while (Date.now() - t0 < 20_000) {
      again = await viaGate(dir, way, url, { Authorization: `Bearer ${placeholder}` });
      if (again?.includes("upstream ok")) break;
      await Bun.sleep(100);
    }
    expect(again).toContain("upstream ok");
    // Same secrets: the placeholder is still swapped for the real token.
    expect(seen.at(-1)).toBe(`Bearer ${real}`);
    const pid = readPid(paths.gatePid(dir))!;
    expect(pid).not.toBe(g.pid);
    // The watcher records the restart once it has seen the new gate answer.
    const readAudit = () => readFileSync(paths.audit(dir), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    for (let i = 0; i < 100 && !readAudit().some((a) => a.event === "gate-restarted"); i++) await Bun.sleep(50);
    const audit = readAudit();
    expect(audit.filter((a) => a.event === "gate-restarted")).toHaveLength(1);
    // Two requests, each a CONNECT and the GET inside it.
    expect(audit.filter((a) => a.decision === "allow")).toHaveLength(4);
    expect(audit.filter((a) => a.decision === "deny")).toHaveLength(0);
    expect(readFileSync(paths.audit(dir), "utf8")).not.toContain(real);
    if (door === "TCP door") {
      // The same port took the same token; another token it does not take,
      // and nothing of either is in the audit.
      expect(await viaGate(dir, { ...listen, hello: doorHello(newDoorToken()) }, url)).toBeNull();
      expect(readAudit().filter((a) => String(a.reason).startsWith("door: wrong door token"))).toHaveLength(1);
      expect(readFileSync(paths.audit(dir), "utf8")).not.toContain(token);
    }
  } finally {
    await w.stop();
  }
}, 60_000);
