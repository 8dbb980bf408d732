import { afterAll, beforeAll, expect, test } from "bun:test";
import net from "node:net";
import { SocketReader } from "../../../../src/gate/io.ts";
import { UpstreamPool, type Upstream } from "../../../../src/gate/pool.ts";

// The pool over real loopback connections: the server side (`peers`) plays
// the upstream and can send bytes the gate never asked for.
let server: net.Server;
const peers: net.Socket[] = [];
beforeAll(async () => {
  server = net.createServer((s) => peers.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
});
afterAll(() => {
  for (const p of peers) p.destroy();
  server.close();
});

async function upstream(key = "https://a.test:443/"): Promise<{ u: Upstream; peer: net.Socket }> {
  const before = peers.length;
  const sock = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  await new Promise<void>((r) => sock.once("connect", () => r()));
  while (peers.length === before) await Bun.sleep(1);
  return { u: { key, sock, reader: new SocketReader(sock) }, peer: peers.at(-1)! };
}

test("parked then taken: the most recent live connection for the key, once", async () => {
  const pool = new UpstreamPool();
  const a = await upstream();
  const b = await upstream();
  pool.park(a.u);
  pool.park(b.u);
  expect(pool.size).toBe(2);
  expect(pool.take("https://other.test:443/")).toBeNull();
  expect(pool.take(a.u.key)).toBe(b.u);
  expect(pool.take(a.u.key)).toBe(a.u);
  expect(pool.take(a.u.key)).toBeNull();
  a.u.sock.destroy();
  b.u.sock.destroy();
});

test("a connection that received bytes while parked is never handed out", async () => {
  const pool = new UpstreamPool();
  const a = await upstream();
  pool.park(a.u);
  // The upstream sends an unsolicited response while the connection idles.
  a.peer.write("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nsmugl");
  const until = Date.now() + 2000;
  while (a.u.reader.idle && Date.now() < until) await Bun.sleep(5);
  expect(a.u.reader.idle).toBe(false);
  expect(pool.take(a.u.key)).toBeNull();
  expect(a.u.sock.destroyed).toBe(true);
});

test("not parked: unread bytes, a closed socket, or a closed pool; at most perKey per key", async () => {
  const pool = new UpstreamPool(2);
  const unread = await upstream();
  unread.u.reader.unshift(Buffer.from("x"));
  pool.park(unread.u);
  expect(unread.u.sock.destroyed).toBe(true);
  expect(pool.size).toBe(0);
  const conns = [await upstream(), await upstream(), await upstream()];
  for (const c of conns) pool.park(c.u);
  expect(pool.size).toBe(2);
  expect(conns[0]!.u.sock.destroyed).toBe(true); // the oldest made room
  pool.closeAll();
  expect(pool.size).toBe(0);
  expect(conns.every((c) => c.u.sock.destroyed)).toBe(true);
  const late = await upstream();
  pool.park(late.u);
  expect(late.u.sock.destroyed).toBe(true);
});

test("an idle connection is closed after idleMs", async () => {
  const pool = new UpstreamPool(8, 50);
  const a = await upstream();
  pool.park(a.u);
  await Bun.sleep(150);
  expect(pool.size).toBe(0);
  expect(a.u.sock.destroyed).toBe(true);
});

test("perKey 0 (the benchmark's pool off): nothing is parked, every connection is closed", async () => {
  const pool = new UpstreamPool(0);
  const a = await upstream();
  pool.park(a.u);
  expect(a.u.sock.destroyed).toBe(true);
  expect(pool.size).toBe(0);
  expect(pool.take(a.u.key)).toBeNull();
});
