import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import type { GatePolicy } from "../../../src/gate/types.ts";
import { connectTunnel, policyOf, route, tlsOver } from "./harness.ts";
import { startGateProcess, type GateProcess } from "./process.ts";
import { Received, respond, startRawUpstream, type RawUpstream } from "./raw-upstream.ts";

// Reload revokes: the real gate process, channels opened while a host was
// allowed (a passthrough tunnel, a terminated tunnel, a plain keep-alive
// connection streaming an upload, a pooled upstream connection), then
// SIGHUP with a policy that no longer allows the host. Each must be closed
// and audited; what the bottle sends on them afterwards must not reach the
// upstream, which is read to prove it. A host still allowed keeps working.

let dir: string;
let raw: RawUpstream;
let gate: GateProcess;
let policyA: GatePolicy;
let policyB: GatePolicy;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cb-gate-revoke-"));
  raw = await startRawUpstream((req, s) => {
    s.write(respond(`answer ${req.path} conn=${req.conn} len=${req.body.length}`));
  });
  const p = raw.httpsPort;
  policyA = {
    ...policyOf([
      route("pass.test", { ports: [p], tls: "passthrough" }),
      route("up.test", { ports: [p, raw.httpPort], dlp: "off" }),
      route("other.test", { ports: [p] }),
    ]),
    slug: "revoke-abcde",
  };
  policyB = { ...policyOf([route("other.test", { ports: [p] })]), slug: "revoke-abcde" };
  gate = await startGateProcess(join(dir, "state"), policyA, {
    credentials: {},
    secrets: [],
    upstream: { hosts: { "pass.test": "127.0.0.1", "up.test": "127.0.0.1", "other.test": "127.0.0.1" }, ca: raw.caPem },
  });
});
afterAll(async () => {
  await gate?.stop();
  raw?.close();
  rmSync(dir, { recursive: true, force: true });
});

const audit = (): Record<string, unknown>[] =>
  readFileSync(join(dir, "state", "audit.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

const get = (host: string, path: string, port = raw.httpsPort) => `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`;

async function terminated(host: string) {
  const { sock, response } = await connectTunnel(gate.port, `${host}:${raw.httpsPort}`);
  expect(response).toStartWith("HTTP/1.1 200");
  const t = await tlsOver(sock, host, join(dir, "state", "ca", "ca.crt"));
  return { sock: t, got: new Received(t) };
}

async function passthrough(host: string) {
  const { sock, response } = await connectTunnel(gate.port, `${host}:${raw.httpsPort}`);
  expect(response).toStartWith("HTTP/1.1 200");
  const t = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ socket: sock, servername: host, ca: raw.caPem, ALPNProtocols: ["http/1.1"] });
    s.once("secureConnect", () => resolve(s));
    s.once("error", reject);
  });
  return { sock: t, got: new Received(t) };
}

const closedWithin = async (r: Received, ms: number) => {
  const until = Date.now() + ms;
  while (!r.closed && Date.now() < until) await Bun.sleep(20);
  return r.closed;
};

describe("gate: a policy reload closes what the new policy no longer allows", () => {
  test("passthrough and terminated tunnels, a streaming upload and pooled connections to a revoked host are closed and audited", async () => {
    // Opened under policy A, each proven to work.
    const pass = await passthrough("pass.test");
    pass.sock.write(get("pass.test", "/p1"));
    expect(await pass.got.waitFor("answer /p1")).toContain("answer /p1");

    const tun = await terminated("up.test");
    tun.sock.write(get("up.test", "/t1"));
    expect(await tun.got.waitFor("answer /t1")).toContain("answer /t1");

    // A plain connection whose request leaves a pooled upstream connection
    // behind (Connection: close on the client side only).
    const pooled = net.connect(gate.port, "127.0.0.1");
    const pooledGot = new Received(pooled);
    await new Promise<void>((r) => pooled.once("connect", () => r()));
    pooled.write(`GET http://up.test:${raw.httpPort}/pooled HTTP/1.1\r\nHost: up.test:${raw.httpPort}\r\nConnection: close\r\n\r\n`);
    await pooledGot.waitFor("answer /pooled");
    const pooledConn = raw.seen.find((r) => r.path === "/pooled")!.conn;

    // A plain keep-alive connection streaming a chunked upload.
    const up = net.connect(gate.port, "127.0.0.1");
    const upGot = new Received(up);
    await new Promise<void>((r) => up.once("connect", () => r()));
    up.write(`POST http://up.test:${raw.httpPort}/upload HTTP/1.1\r\nHost: up.test:${raw.httpPort}\r\nTransfer-Encoding: chunked\r\n\r\n`);
    for (let i = 0; i < 5; i++) {
      up.write("5\r\nhello\r\n");
      await Bun.sleep(20);
    }

    const ctl = await terminated("other.test");
    ctl.sock.write(get("other.test", "/c1"));
    await ctl.got.waitFor("answer /c1");

    await gate.reload(policyB);

    // After the reload the bottle keeps sending on what it holds.
    for (let i = 0; i < 10; i++) {
      up.write("5\r\nworld\r\n");
      await Bun.sleep(20);
    }
    up.write("0\r\n\r\n");
    if (!pass.got.closed) pass.sock.write(get("pass.test", "/p2"));
    await Bun.sleep(300);

    expect(await closedWithin(pass.got, 3000)).toBe(true);
    expect(await closedWithin(tun.got, 3000)).toBe(true);
    expect(await closedWithin(upGot, 3000)).toBe(true);
    // Nothing sent after the reload reached the upstream.
    expect(raw.seen.find((r) => r.path === "/p2")).toBeUndefined();
    expect(raw.seen.find((r) => r.path === "/upload")).toBeUndefined();
    expect(pass.got.text()).not.toContain("answer /p2");
    expect(upGot.text()).not.toContain("answer /upload");
    // The pooled upstream connection was closed too.
    expect(raw.conns.get(pooledConn)!.destroyed || raw.conns.get(pooledConn)!.readyState === "closed").toBe(true);

    // The host still allowed keeps working, on the same tunnel.
    ctl.sock.write(get("other.test", "/c2"));
    expect(await ctl.got.waitFor("answer /c2")).toContain("answer /c2");
    expect(ctl.got.closed).toBe(false);

    const revoked = audit().filter((l) => String(l.reason).startsWith("revoked by policy reload"));
    const hosts = revoked.map((l) => `${l.method} ${l.host} ${String(l.reason).split(": ")[1]}`);
    expect(hosts).toContain("CONNECT pass.test passthrough tunnel closed");
    expect(hosts).toContain("CONNECT up.test tunnel closed");
    expect(hosts.filter((h) => h === "- up.test upstream connection closed").length).toBeGreaterThanOrEqual(2);
    expect(revoked.every((l) => l.decision === "deny" && l.layer === "policy")).toBe(true);
    expect(revoked.some((l) => l.host === "other.test")).toBe(false);
    for (const s of [pass.sock, tun.sock, up, pooled, ctl.sock]) s.destroy();
  });

  test("a passthrough tunnel whose host the new policy inspects (terminate) is closed", async () => {
    await gate.reload(policyA);
    const pass = await passthrough("pass.test");
    pass.sock.write(get("pass.test", "/q1"));
    await pass.got.waitFor("answer /q1");
    await gate.reload({ ...policyA, routes: policyA.routes.map((r) => (r.host === "pass.test" ? { ...r, tls: "terminate" as const } : r)) });
    expect(await closedWithin(pass.got, 3000)).toBe(true);
    expect(audit().findLast((l) => l.host === "pass.test")).toMatchObject({
      decision: "deny",
      reason: "revoked by policy reload: passthrough tunnel closed: pass.test is no longer a passthrough route",
    });
  });
  // The bottle's side picks the timing: it opens its tunnels while the host
  // is allowed and sends nothing (no ClientHello, no first byte) until the
  // operator has revoked it. What opens after the reload must not outlive
  // it either.
  test("tunnels accepted before a reload but first used after it are closed", async () => {
    await gate.reload(policyA);
    const waiting = {
      pass: await connectTunnel(gate.port, `pass.test:${raw.httpsPort}`),
      tls: await connectTunnel(gate.port, `up.test:${raw.httpsPort}`),
      plain: await connectTunnel(gate.port, `up.test:${raw.httpPort}`),
    };
    for (const w of Object.values(waiting)) expect(w.response).toStartWith("HTTP/1.1 200");
    // Watched from before the reload: the gate may close them at once.
    const closed = new Set<string>();
    for (const [k, w] of Object.entries(waiting)) w.sock.once("close", () => closed.add(k));
    const lines = audit().length;
    await gate.reload(policyB);

    const passTls = tls.connect({ socket: waiting.pass.sock, servername: "pass.test", ca: raw.caPem, ALPNProtocols: ["http/1.1"] });
    passTls.on("error", () => {});
    const passInner = new Received(passTls);
    passTls.once("secureConnect", () => passTls.write(get("pass.test", "/late-pass")));

    const tlsInner = tls.connect({ socket: waiting.tls.sock, servername: "up.test", ca: readFileSync(join(dir, "state", "ca", "ca.crt"), "utf8"), ALPNProtocols: ["http/1.1"] });
    tlsInner.on("error", () => {});
    const tlsGot = new Received(tlsInner);
    tlsInner.once("secureConnect", () => tlsInner.write(get("up.test", "/late-tls")));

    const plainGot = new Received(waiting.plain.sock);
    if (!waiting.plain.sock.destroyed) waiting.plain.sock.write(get("up.test", "/late-plain", raw.httpPort));

    const until = Date.now() + 3000;
    while (closed.size < 3 && Date.now() < until) await Bun.sleep(20);
    expect([...closed].sort()).toEqual(["pass", "plain", "tls"]);
    await Bun.sleep(200);
    expect(raw.seen.filter((r) => r.path.startsWith("/late-")).map((r) => r.path)).toEqual([]);
    expect(passInner.text() + tlsGot.text() + plainGot.text()).not.toContain("answer /late-");
    // Each closing is one audit line.
    await Bun.sleep(200);
    const after = audit().slice(lines).map((l) => `${l.host} ${l.reason}`);
    expect(after.filter((l) => l.startsWith("pass.test "))).toEqual(["pass.test revoked by policy reload: passthrough tunnel closed: host not in allowlist: pass.test"]);
    expect(after.filter((l) => l.startsWith("up.test ") && l.includes("revoked by policy reload: tunnel closed")).length).toBe(2);
    for (const w of Object.values(waiting)) w.sock.destroy();
    passTls.destroy();
    tlsInner.destroy();
  });
});
