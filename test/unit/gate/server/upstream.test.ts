import { describe, expect, test } from "bun:test";
import net from "node:net";
import { privateAllowance } from "../../../../src/gate/policy/private.ts";
import { dial, fixedResolver, resolveUpstream, upstreamTrust } from "../../../../src/gate/upstream.ts";
import type { EgressRoute } from "../../../../src/manifest/schema.ts";

// SSRF after resolution: every answer is checked, the checked address is
// what gets dialed (no second lookup that a rebinding DNS server could
// answer differently).

const allowance = (host: string, allow_private: EgressRoute["allow_private"]) =>
  privateAllowance({ host, tls: "terminate", dlp: "on", allow_private });
const NONE = allowance("x.example", false);

const answers = (...addrs: string[]) => {
  let calls = 0;
  const r = async () => {
    calls++;
    return addrs.map((address) => ({ address, family: net.isIP(address) }));
  };
  return { r, calls: () => calls };
};

describe("resolveUpstream", () => {
  test("public answers pass; the first is the one to dial", async () => {
    const a = answers("93.184.215.14", "93.184.215.15");
    expect(await resolveUpstream("example.com", false, 443, NONE, a.r)).toEqual({ ok: true, address: "93.184.215.14", family: 4 });
    expect(a.calls()).toBe(1);
  });
  test("any private, loopback, link-local or metadata answer refuses the name", async () => {
    for (const bad of ["127.0.0.1", "10.1.2.3", "192.168.1.1", "169.254.169.254", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1"]) {
      const r = await resolveUpstream("rebind.example", false, 443, NONE, answers("93.184.215.14", bad).r);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toStartWith(`rebind.example resolves to ${bad}: `);
    }
  });
  test("allow_private: true lets them through on an exact host; IP literals are checked without a lookup", async () => {
    expect((await resolveUpstream("intranet.example", false, 443, allowance("intranet.example", true), answers("10.0.0.5").r)).ok).toBe(true);
    const none = answers();
    expect((await resolveUpstream("127.0.0.1", true, 443, NONE, none.r)).ok).toBe(false);
    expect(none.calls()).toBe(0);
  });
  test("allow_private: true on a wildcard opens nothing (a policy.json no manifest can write)", async () => {
    const r = await resolveUpstream("svc.lan.example", false, 443, allowance("*.lan.example", true), answers("127.0.0.1").r);
    expect(r).toEqual({ ok: false, reason: "svc.lan.example resolves to 127.0.0.1: loopback address", unresolvable: false });
  });
  test("a named list opens exactly its addresses, blocks and ports", async () => {
    const a = allowance("*.lan.example", ["10.0.0.5", "192.168.1.0/24:5432", "[fd00::1]:443", "fd10::/16"]);
    const ok = async (addr: string, port: number) => (await resolveUpstream("svc.lan.example", false, port, a, answers(addr).r)).ok;
    expect(await ok("10.0.0.5", 80)).toBe(true);
    expect(await ok("10.0.0.5", 8443)).toBe(true);
    expect(await ok("10.0.0.6", 80)).toBe(false);
    expect(await ok("192.168.1.77", 5432)).toBe(true);
    expect(await ok("192.168.1.77", 5433)).toBe(false);
    expect(await ok("192.168.2.1", 5432)).toBe(false);
    expect(await ok("fd00::1", 443)).toBe(true);
    expect(await ok("fd00::1", 80)).toBe(false);
    expect(await ok("fd10:1::2", 22)).toBe(true);
    expect(await ok("127.0.0.1", 80)).toBe(false);
    expect(await ok("169.254.169.254", 80)).toBe(false);
    // A resolver answering IPv4-mapped IPv6 is judged as the IPv4 address.
    expect(await ok("::ffff:10.0.0.5", 80)).toBe(true);
    expect(await ok("::ffff:10.0.0.6", 80)).toBe(false);
    // Public addresses need no entry; one private answer among them refuses.
    expect(await ok("93.184.215.14", 443)).toBe(true);
    const mixed = await resolveUpstream("svc.lan.example", false, 80, a, answers("10.0.0.5", "127.0.0.1").r);
    expect(mixed).toEqual({ ok: false, reason: "svc.lan.example resolves to 127.0.0.1: loopback address, and not an address allow_private names for port 80", unresolvable: false });
  });
  test("lookup failure and empty answers are refusals, not crashes", async () => {
    const fail = async () => {
      throw Object.assign(new Error("nope"), { code: "ENOTFOUND" });
    };
    expect(await resolveUpstream("x.invalid", false, 443, NONE, fail)).toEqual({ ok: false, reason: "cannot resolve x.invalid (ENOTFOUND)", unresolvable: true });
    expect((await resolveUpstream("x.invalid", false, 443, NONE, answers().r)).ok).toBe(false);
  });
});

describe("dial", () => {
  test("connect timeout and refusal reject", async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as net.AddressInfo).port;
    srv.close();
    await expect(dial({ address: "127.0.0.1", port, tlsHost: null, timeoutMs: 2000 })).rejects.toThrow();
  });
  test("upstream TLS is verified: an untrusted certificate is refused", async () => {
    const { createCa } = await import("../../../../src/gate/tls/ca.ts");
    const { createLeafMinter } = await import("../../../../src/gate/tls/leaf.ts");
    const ca = await createCa("untrusted");
    const leaf = await (await createLeafMinter(ca)).get("localhost");
    const s = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert: leaf.certPem, key: leaf.keyPem }, fetch: () => new Response("x") });
    try {
      await expect(dial({ address: "127.0.0.1", port: s.port!, tlsHost: "localhost", timeoutMs: 3000 })).rejects.toThrow();
      // The control: the same server is accepted once its CA is passed in.
      const ok = await dial({ address: "127.0.0.1", port: s.port!, tlsHost: "localhost", timeoutMs: 3000, ca: upstreamTrust(ca.certPem) });
      ok.destroy();
    } finally {
      s.stop(true);
    }
  });
});

describe("fixedResolver", () => {
  test("answers its names (any case), asks the fallback for the rest, skips non-IPs", async () => {
    const seen: string[] = [];
    const r = fixedResolver({ "Up.Example": "127.0.0.1", "six.example": "::1", "bad.example": "not-an-ip" }, async (h) => {
      seen.push(h);
      return [{ address: "93.184.215.14", family: 4 }];
    });
    expect(await r("up.example")).toEqual([{ address: "127.0.0.1", family: 4 }]);
    expect(await r("six.example")).toEqual([{ address: "::1", family: 6 }]);
    expect(await r("bad.example")).toEqual([{ address: "93.184.215.14", family: 4 }]);
    expect(seen).toEqual(["bad.example"]);
  });
});
