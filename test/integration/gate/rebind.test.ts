import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { startGate, type RunningGate } from "../../../src/gate/server.ts";
import type { EgressRoute } from "../../../src/manifest/schema.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { policyOf, readUntil } from "./harness.ts";

// allow_private is a scalpel: a name under an allowed wildcard that the
// bottle makes resolve to a loopback address (DNS it controls, or any name
// the resolver maps there) must not reach the host's own services. Real
// sockets: two loopback "host services" that record what reaches them, the
// gate in-process with a resolver that maps the attacker's names, raw
// clients through the gate.

interface Service {
  port: number;
  hits: string[];
  // Connections accepted (a passthrough dial reaches the service even
  // before a byte is sent).
  conns: number;
  close(): void;
}

async function service(host: string, name: string): Promise<Service> {
  const hits: string[] = [];
  const svc = { port: 0, hits, conns: 0, close: () => srv.close() };
  const srv = net.createServer((s) => {
    svc.conns++;
    s.on("error", () => {});
    s.once("data", (d) => {
      hits.push(d.toString("latin1").split("\r\n")[0]!);
      s.end(`HTTP/1.1 200 OK\r\ncontent-length: ${name.length}\r\nconnection: close\r\n\r\n${name}`);
    });
  });
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  svc.port = (srv.address() as net.AddressInfo).port;
  return svc;
}

let lan: Service; // the service the route is meant for
let secret: Service; // another service on the same loopback address
let other: Service; // a service on another loopback address
let dir: string;
const gates: RunningGate[] = [];

// The attacker's names: all under the allowed wildcard.
const resolver = async (host: string) => {
  if (host === "other.lan.test") return [{ address: "127.0.0.2", family: 4 }];
  if (host.endsWith(".lan.test")) return [{ address: "127.0.0.1", family: 4 }];
  throw Object.assign(new Error("no such name"), { code: "ENOTFOUND" });
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cb-gate-rebind-"));
  lan = await service("127.0.0.1", "lan-service");
  secret = await service("127.0.0.1", "host-secret-service");
  other = await service("127.0.0.2", "other-loopback-service");
});
afterAll(async () => {
  for (const g of gates) await g.close();
  for (const s of [lan, secret, other]) s?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function gateWith(route: EgressRoute): Promise<RunningGate> {
  const g = await startGate({
    stateDir: join(dir, `state-${gates.length}`),
    policy: policyOf([route]),
    secrets: { credentials: {}, secrets: [] },
    listen: "127.0.0.1:0",
    resolver,
    vhosts: {},
  });
  gates.push(g);
  return g;
}

async function get(g: RunningGate, host: string, port: number): Promise<string> {
  const s = net.connect(g.port!, "127.0.0.1");
  s.on("error", () => {});
  await new Promise<void>((r) => s.once("connect", () => r()));
  s.write(`GET http://${host}:${port}/ HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`);
  const text = await readUntil(s, "\r\n\r\n").catch(() => "");
  await new Promise((r) => setTimeout(r, 50));
  s.destroy();
  return text;
}

async function connect(g: RunningGate, host: string, port: number): Promise<string> {
  const s = net.connect(g.port!, "127.0.0.1");
  s.on("error", () => {});
  await new Promise<void>((r) => s.once("connect", () => r()));
  s.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  const text = await readUntil(s, "\r\n\r\n").catch(() => "");
  // A passthrough tunnel dials at CONNECT: the service counts the
  // connection.
  await new Promise((r) => setTimeout(r, 100));
  s.destroy();
  return text;
}

describe("gate: a name under an allowed wildcard rebinding to loopback", () => {
  test("allow_private: true on a wildcard route opens nothing: the host's services stay out of reach", async () => {
    // What a policy could say before: every private address, for any name.
    const g = await gateWith({ host: "*.lan.test", ports: [lan.port, secret.port], tls: "terminate", dlp: "on", allow_private: true });
    const before = secret.conns + lan.conns;
    expect(await get(g, "rebind.lan.test", secret.port)).toStartWith("HTTP/1.1 403 ");
    expect(await get(g, "svc.lan.test", lan.port)).toStartWith("HTTP/1.1 403 ");
    expect(secret.conns + lan.conns).toBe(before);
  });

  test("named addresses open exactly those: the LAN service on its port, nothing else on loopback", async () => {
    const g = await gateWith({
      host: "*.lan.test",
      ports: [lan.port, secret.port],
      tls: "terminate",
      dlp: "on",
      allow_private: [`127.0.0.1:${lan.port}`],
    });
    const r = await get(g, "svc.lan.test", lan.port);
    expect(r).toStartWith("HTTP/1.1 200 ");
    expect(lan.hits.at(-1)).toBe("GET / HTTP/1.1");
    const secretBefore = secret.conns;
    const otherBefore = other.conns;
    const refused = await get(g, "rebind.lan.test", secret.port);
    expect(refused).toStartWith("HTTP/1.1 403 ");
    const body = await get(g, "other.lan.test", lan.port);
    expect(body).toStartWith("HTTP/1.1 403 ");
    expect(secret.conns).toBe(secretBefore);
    expect(other.conns).toBe(otherBefore);
  });

  test("the same on a passthrough route: the tunnel is refused before anything is dialled", async () => {
    const g = await gateWith({
      host: "*.lan.test",
      ports: [lan.port, secret.port],
      tls: "passthrough",
      dlp: "on",
      allow_private: [`127.0.0.1:${lan.port}`],
    });
    const secretBefore = secret.conns;
    expect(await connect(g, "rebind.lan.test", secret.port)).toStartWith("HTTP/1.1 403 ");
    expect(secret.conns).toBe(secretBefore);
    const lanBefore = lan.conns;
    expect(await connect(g, "svc.lan.test", lan.port)).toStartWith("HTTP/1.1 200 ");
    expect(lan.conns).toBe(lanBefore + 1);
  });
});

test("a reload that stops naming the address closes the tunnel already open to it", async () => {
  // A LAN service that keeps its connections open and counts the bytes.
  let got = 0;
  const held = net.createServer((c) => {
    c.on("error", () => {});
    c.on("data", (d) => (got += d.length));
  });
  await new Promise<void>((r) => held.listen(0, "127.0.0.1", () => r()));
  const port = (held.address() as net.AddressInfo).port;
  const route: EgressRoute = { host: "*.lan.test", ports: [port], tls: "passthrough", dlp: "on", allow_private: [`127.0.0.1:${port}`] };
  const g = await gateWith(route);
  const s = net.connect(g.port!, "127.0.0.1");
  s.on("error", () => {});
  await new Promise<void>((r) => s.once("connect", () => r()));
  s.write(`CONNECT svc.lan.test:${port} HTTP/1.1\r\nHost: svc.lan.test:${port}\r\n\r\n`);
  expect(await readUntil(s, "\r\n\r\n")).toStartWith("HTTP/1.1 200 ");
  // A ClientHello with the right SNI opens the byte relay.
  const { clientHello } = await import("./hello.ts");
  s.write(clientHello("svc.lan.test"));
  await new Promise((r) => setTimeout(r, 100));
  const before = got;
  expect(before).toBeGreaterThan(0);
  let closed = false;
  s.once("close", () => (closed = true));
  await g.reload(policyOf([{ ...route, allow_private: ["127.0.0.1:1"] }]));
  for (let i = 0; i < 50 && !closed; i++) await new Promise((r) => setTimeout(r, 20));
  expect(closed).toBe(true);
  if (!s.destroyed) s.write("after the reload");
  await new Promise((r) => setTimeout(r, 100));
  expect(got).toBe(before);
  s.destroy();
  held.close();
});
