import { describe, expect, test } from "bun:test";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCa, ensureCa } from "../../../../src/gate/tls/ca.ts";
import { createLeafMinter } from "../../../../src/gate/tls/leaf.ts";

describe("per-bottle CA", () => {
  test("ensureCa creates a P-256 CA with a 0600 key, then loads the same one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-ca-"));
    try {
      const a = await ensureCa(join(dir, "ca"), "demo-abcde");
      expect(statSync(join(dir, "ca", "ca.key")).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, "ca")).mode & 0o777).toBe(0o700);
      const cert = new X509Certificate(a.certPem);
      expect(cert.ca).toBe(true);
      expect(cert.subject).toContain("demo-abcde");
      expect(createPublicKey(a.certPem).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
      expect(a.fingerprint).toBe(cert.fingerprint256.replace(/:/g, "").toLowerCase());
      const b = await ensureCa(join(dir, "ca"));
      expect(b.keyPem).toBe(a.keyPem);
      expect(b.fingerprint).toBe(a.fingerprint);
      expect(readFileSync(join(dir, "ca", "ca.crt"), "utf8")).toBe(a.certPem);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("leaf minting", () => {
  test("leaf is signed by the CA, SAN = exactly the host, ECDSA P-256, serverAuth", async () => {
    const ca = await createCa("t");
    const m = await createLeafMinter(ca);
    const leaf = await m.get("api.example.com");
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(cert.subjectAltName).toBe("DNS:api.example.com");
    expect(cert.checkHost("api.example.com")).toBe("api.example.com");
    expect(cert.checkHost("evil.example.com")).toBeUndefined();
    expect(cert.ca).toBe(false);
    expect(createPrivateKey(leaf.keyPem).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(cert.keyUsage).toContain("1.3.6.1.5.5.7.3.1");
    expect(new Date(cert.validTo).getTime()).toBeLessThanOrEqual(new Date(new X509Certificate(ca.certPem).validTo).getTime());
  });

  test("IP literal gets an IP SAN", async () => {
    const m = await createLeafMinter(await createCa("t"));
    const cert = new X509Certificate((await m.get("127.0.0.1")).certPem);
    expect(cert.subjectAltName).toBe("IP Address:127.0.0.1");
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
  });

  test("cached per host; concurrent requests share one mint; LRU bound", async () => {
    const m = await createLeafMinter(await createCa("t"), { maxEntries: 2 });
    const [a, b] = await Promise.all([m.get("a.test"), m.get("a.test")]);
    expect(a).toBe(b);
    expect(m.minted).toBe(1);
    expect(await m.get("a.test")).toBe(a);
    expect(m.minted).toBe(1);
    const other = await m.get("b.test");
    expect(other.certPem).not.toBe(a.certPem);
    expect(other.keyPem).not.toBe(a.keyPem);
    await m.get("a.test"); // a is now most recent
    await m.get("c.test"); // evicts b
    expect(m.size).toBe(2);
    expect(await m.get("a.test")).toBe(a);
    expect(m.minted).toBe(3);
    await m.get("b.test");
    expect(m.minted).toBe(4);
  });
});
