import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RAW_CLIENT_JS } from "../../../src/selftest/raw-client.ts";

// The in-bottle raw client is plain Node: check it against a real server on
// loopback, so an escape attack that "got no status" means the gate refused
// it, not that the client was broken.
const dir = mkdtempSync(join(tmpdir(), "cb-raw-"));
const file = join(dir, "raw.js");
writeFileSync(file, RAW_CLIENT_JS);
const got: string[] = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    got.push(`${req.method} ${new URL(req.url).pathname} ${await req.text()}`);
    return new Response("hi");
  },
});
afterAll(() => {
  server.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

async function raw(...args: string[]) {
  const p = Bun.spawn(["node", file, `http://127.0.0.1:${server.port}`, ...args], { stdout: "pipe" });
  await p.exited;
  return await new Response(p.stdout).text();
}

test("sends pieces with delays and reports the status line", async () => {
  const out = await raw("-", "-", "20", JSON.stringify("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"), JSON.stringify("Connection: close\r\n\r\nhello"));
  expect(out).toContain("STATUS 200");
  expect(got).toContain("POST /x hello");
});

test("a refused CONNECT is reported as such", async () => {
  // A proxy that refuses every tunnel: the client must report the refusal
  // rather than attempt TLS.
  const refuser = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: { data: (s) => void s.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nblocked: ") },
  });
  try {
    const p = Bun.spawn(["node", file, `http://127.0.0.1:${refuser.port}`, "example.test:443", "-", "0", JSON.stringify("GET / HTTP/1.1\r\n\r\n")], { stdout: "pipe" });
    await p.exited;
    const out = await new Response(p.stdout).text();
    expect(out).toContain("STATUS 403 connect-refused");
  } finally {
    refuser.stop(true);
  }
});
