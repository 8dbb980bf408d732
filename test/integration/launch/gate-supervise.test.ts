import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gateInputs } from "../../../src/launch/inputs.ts";
import { makePlaceholder } from "../../../src/gate/credentials.ts";
import { spawnGate, stopGate } from "../../../src/supervise/gate.ts";
import { waitForGate } from "../../../src/supervise/probe.ts";
import { watchGate } from "../../../src/supervise/watcher.ts";
import { paths } from "../../../src/state/paths.ts";
import { isAlive, readPid } from "../../../src/state/process.ts";
import type { Spec } from "../../../src/manifest/spec.ts";

// The real gate process (`claude-bottle gate`) under the launcher's spawn and
// the watcher: readiness, a proxied request to a loopback upstream, kill -9,
// fail closed, restart with the same secrets, and no audit noise from probes.

let dir = "";
let upstream: ReturnType<typeof Bun.serve>;
const seen: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cb-gate-sup-"));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      seen.push(req.headers.get("authorization") ?? "");
      return new Response("upstream ok\n");
    },
  });
});
afterAll(async () => {
  await stopGate(dir);
  upstream.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

// One absolute-form request through the gate's unix socket.
function viaGate(sock: string, url: string, headers: Record<string, string> = {}): Promise<string | null> {
  return new Promise((resolve) => {
    let buf = "";
    const u = new URL(url);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const t = setTimeout(() => resolve(null), 5000);
    Bun.connect({
      unix: sock,
      socket: {
        open(s) {
          s.write(`GET ${url} HTTP/1.1\r\nHost: ${u.host}\r\n${extra}Connection: close\r\n\r\n`);
        },
        data(_s, d) {
          buf += Buffer.from(d).toString();
        },
        close() {
          clearTimeout(t);
          resolve(buf);
        },
        error() {
          clearTimeout(t);
          resolve(null);
        },
        connectError() {
          clearTimeout(t);
          resolve(null);
        },
      },
    }).catch(() => resolve(null));
  });
}

test("real gate: ready, proxies with the credential, dies, stays shut, comes back with the same secrets", async () => {
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
  const url = `http://127.0.0.1:${upstream.port}/x`;

  const g = await spawnGate({ stateDir: dir, secrets: gi.secrets });
  const ready = await waitForGate(sock, { timeoutMs: 20_000, stillWorth: () => isAlive(g.pid) });
  if (!ready) throw new Error(`gate did not start: ${readFileSync(paths.gateOut(dir), "utf8").slice(-500)}`);
  // Readiness probing wrote no audit line.
  expect(existsSync(paths.audit(dir)) ? readFileSync(paths.audit(dir), "utf8") : "").toBe("");

  const first = await viaGate(sock, url, { Authorization: `Bearer ${placeholder}` });
  expect(first).toContain("upstream ok");
  expect(seen.at(-1)).toBe(`Bearer ${real}`);

  process.kill(g.pid, "SIGKILL");
  for (let i = 0; i < 100 && isAlive(g.pid); i++) await Bun.sleep(20);
  // No gate, no way out: refused (null) or cut off without any response.
  expect((await viaGate(sock, url)) ?? "").toBe("");

  const w = watchGate({ slug: "itest-aaaaa", stateDir: dir, secrets: gi.secrets, intervalMs: 200 });
  try {
    const t0 = Date.now();
    let again: string | null = null;
    while (Date.now() - t0 < 20_000) {
      again = await viaGate(sock, url, { Authorization: `Bearer ${placeholder}` });
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
    expect(audit.filter((a) => a.decision === "allow")).toHaveLength(2);
    expect(audit.filter((a) => a.decision === "deny")).toHaveLength(0);
    expect(readFileSync(paths.audit(dir), "utf8")).not.toContain(real);
  } finally {
    await w.stop();
  }
}, 60_000);
