import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Resolver } from "node:dns/promises";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startReceivers, type Receivers } from "../../../src/selftest/receivers/index.ts";

// The host-side receivers with real clients on real sockets: whatever
// reaches them is recorded, including what an HTTP parser refuses, and a
// window past its cap says so instead of dropping the rest.
describe("escape suite receivers", () => {
  const dir = mkdtempSync(join(tmpdir(), "cb-rx-"));
  let rx: Receivers;
  beforeAll(async () => {
    rx = await startReceivers({
      names: ["allowed.test", "*.wild.test"],
      dir,
      dnsAnswers: (n) => (n === "known.test" ? { A: "192.0.2.7" } : null),
      addresses: [{ label: "lo-test", address: "127.0.0.1" }],
      windowCap: 64 * 1024,
    });
    writeFileSync(join(dir, "ca.pem"), rx.upstream.ca.certPem);
  });
  afterAll(() => {
    rx.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const run = async (argv: string[], input?: string) => {
    const p = Bun.spawn(argv, { stdin: input === undefined ? "ignore" : new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    return { out, code };
  };

  test("HTTPS by SNI (a wildcard name too), with the head, the body and the ClientHello's name", async () => {
    rx.log.take();
    for (const name of ["allowed.test", "x1.wild.test"]) {
      const r = await run(["curl", "-sS", "--cacert", join(dir, "ca.pem"), "--resolve", `${name}:${rx.upstream.httpsPort}:127.0.0.1`, "--data-binary", "payload-1", `https://${name}:${rx.upstream.httpsPort}/p?q=1`]);
      expect(r.out).toBe("upstream-ok\n");
    }
    const w = rx.log.take();
    expect(w.arrivals.filter((a) => a.receiver === "upstream https (tcp)").map((a) => a.text)).toEqual(["(TLS handshake, SNI allowed.test)", "(TLS handshake, SNI x1.wild.test)"]);
    expect(w.arrivals.find((a) => a.receiver === "upstream allowed.test")!.text).toStartWith("POST /p?q=1\n");
    expect(w.arrivals.some((a) => a.receiver === "upstream x1.wild.test" && a.text.includes("payload-1"))).toBe(true);
  });

  test("plain HTTP bytes the server refuses are still an arrival", async () => {
    rx.log.take();
    const smuggle = "POST / HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    await run(["socat", "-t", "1", "-", `TCP:127.0.0.1:${rx.upstream.httpPort}`], smuggle);
    const w = rx.log.take();
    expect(w.arrivals.filter((a) => a.receiver === "upstream http (tcp)").map((a) => a.text).join("")).toBe(smuggle);
  });

  test("DNS over UDP and TCP from a real resolver: the query name is recorded, known names answered", async () => {
    rx.log.take();
    const d = rx.dns[0]!;
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`${d.host}:${d.port}`]);
    expect(await r.resolve4("known.test")).toEqual(["192.0.2.7"]);
    await expect(r.resolve4("leak-abc.example.com")).rejects.toThrow(/ENOTFOUND/);
    // TCP: a query framed with its two-byte length, as dig +tcp sends it.
    const dnsPacket = (await import("dns-packet")).default;
    const q = dnsPacket.streamEncode({ type: "query", id: 7, questions: [{ type: "A", name: "tcp-leak.example.com" }] });
    await run(["socat", "-t", "1", "-", `TCP:${d.host}:${d.port}`], q.toString("latin1"));
    const w = rx.log.take();
    expect(w.arrivals.map((a) => `${a.receiver}: ${a.text}`)).toEqual([
      "dns lo-test (udp): A known.test",
      "dns lo-test (udp): A leak-abc.example.com",
      "dns lo-test (tcp): A tcp-leak.example.com",
    ]);
  });

  test("TCP connections (even silent ones), UDP datagrams and the unix socket", async () => {
    rx.log.take();
    await run(["socat", "-u", "/dev/null", `TCP:127.0.0.1:${rx.tcp[0]!.port}`]);
    await run(["socat", "-u", "-", `UDP:127.0.0.1:${rx.udp[0]!.port}`], "dgram");
    // A client that stays to listen, like the attack's `head -n1 <&3`.
    const unix = await run(["sh", "-c", `sleep 0.4 | socat - UNIX-CONNECT:${rx.unix}`]);
    expect(unix.out).toBe("CONNECTED host service\n");
    await Bun.sleep(50);
    const w = rx.log.take();
    expect(w.arrivals.map((a) => `${a.receiver}: ${a.text}`)).toEqual(["tcp lo-test: (connection)", "udp lo-test: dgram", "unix host-socket: (connection)"]);
  });

  test("more than the window holds fails the window instead of dropping what came after", async () => {
    rx.log.take();
    const big = "a".repeat(100 * 1024) + "LEAK-AT-THE-END";
    await run(["curl", "-sS", "--data-binary", "@-", `http://127.0.0.1:${rx.upstream.httpPort}/`], big);
    const w = rx.log.take();
    expect(w.overflowed).toBe(true);
    expect(w.bytes).toBeGreaterThan(100 * 1024);
  });
});
