import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { createCa } from "../../../../src/gate/tls/ca.ts";
import { oid, pemDecode, time, tlv, uint } from "../../../../src/gate/tls/der.ts";
import { createLeafMinter } from "../../../../src/gate/tls/leaf.ts";
import { x509 } from "../../../helpers/x509.ts";

// The CA certificate is DER written by hand (der.ts): checked here against
// two independent readers, OpenSSL and @peculiar/x509, and used for real: a
// leaf it signs is accepted by a TLS client that trusts only this CA.

const dir = mkdtempSync(join(tmpdir(), "cb-ca-der-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("DER pieces", () => {
  test("lengths: short form below 128, long form above", () => {
    expect(hex(tlv(0x04, new Uint8Array(5)))).toBe("0405" + "00".repeat(5));
    expect(hex(tlv(0x04, new Uint8Array(200))).slice(0, 6)).toBe("0481c8");
    expect(hex(tlv(0x04, new Uint8Array(300))).slice(0, 8)).toBe("0482012c");
  });
  test("integers are minimal and positive", () => {
    expect(hex(uint(Uint8Array.of(0, 0, 5)))).toBe("020105");
    expect(hex(uint(Uint8Array.of(0x80)))).toBe("02020080");
    expect(hex(uint(Uint8Array.of(0)))).toBe("020100");
  });
  test("object identifiers, multi-byte arcs included", () => {
    expect(hex(oid("2.5.29.19"))).toBe("0603551d13");
    expect(hex(oid("1.2.840.10045.4.3.2"))).toBe("06082a8648ce3d040302");
  });
  test("UTCTime through 2049, GeneralizedTime from 2050", () => {
    expect(Buffer.from(time(new Date(Date.UTC(2049, 11, 31, 23, 59, 58)))).toString("latin1")).toBe("\x17\x0d491231235958Z");
    expect(Buffer.from(time(new Date(Date.UTC(2050, 0, 2, 3, 4, 5)))).toString("latin1")).toBe("\x18\x0f20500102030405Z");
  });
});

describe("the CA certificate", async () => {
  const ca = await createCa("demo-abcde");
  const certFile = join(dir, "ca.crt");
  writeFileSync(certFile, ca.certPem);

  test("OpenSSL reads it as a v3 CA with exactly our extensions, and its self-signature verifies", () => {
    const text = Bun.spawnSync(["openssl", "x509", "-in", certFile, "-noout", "-text"], { stdout: "pipe" }).stdout.toString();
    expect(text).toContain("Version: 3 (0x2)");
    expect(text).toContain("Signature Algorithm: ecdsa-with-SHA256");
    expect(text).toContain("Subject: CN = claude-bottle CA demo-abcde, O = claude-bottle");
    expect(text).toContain("Issuer: CN = claude-bottle CA demo-abcde, O = claude-bottle");
    expect(text).toContain("NIST CURVE: P-256");
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(text).toContain("X509v3 Subject Key Identifier");
    const v = Bun.spawnSync(["openssl", "verify", "-x509_strict", "-CAfile", certFile, certFile], { stdout: "pipe", stderr: "pipe" });
    expect(v.stdout.toString().trim()).toBe(`${certFile}: OK`);
  });

  test("@peculiar/x509 reads the same, and the key identifier is the SHA-1 of the public key", async () => {
    const c = new x509.X509Certificate(ca.certPem);
    expect(c.subject).toBe(c.issuer);
    expect(await c.verify({ publicKey: c.publicKey, signatureOnly: true })).toBe(true);
    const bc = c.getExtension(x509.BasicConstraintsExtension)!;
    expect({ ca: bc.ca, pathLength: bc.pathLength, critical: bc.critical }).toEqual({ ca: true, pathLength: 0, critical: true });
    const ku = c.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(ku.critical).toBe(true);
    const ski = c.getExtension(x509.SubjectKeyIdentifierExtension)!;
    expect(ski.keyId).toBe((await x509.SubjectKeyIdentifierExtension.create(c.publicKey)).keyId);
    const days = (c.notAfter.getTime() - c.notBefore.getTime()) / 86400_000;
    expect(Math.round(days * 24)).toBe(825 * 24 + 1);
  });

  test("the fingerprint is the SHA-256 of the DER; the key is PKCS#8 OpenSSL reads", () => {
    expect(ca.fingerprint).toBe(createHash("sha256").update(pemDecode(ca.certPem)).digest("hex"));
    writeFileSync(join(dir, "ca.key"), ca.keyPem);
    expect(Bun.spawnSync(["openssl", "pkey", "-in", join(dir, "ca.key"), "-noout"]).exitCode).toBe(0);
    expect(ca.keyPem.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    expect(ca.certPem.endsWith("-----END CERTIFICATE-----\n")).toBe(true);
  });

  test("a leaf names the CA byte for byte as its issuer (GnuTLS, git's TLS in Debian, compares the bytes)", async () => {
    for (const c of [ca, await createCa("under_score-x")]) {
      const leaf = await (await createLeafMinter(c)).get("demo.example");
      const issuer = new Uint8Array(new x509.X509Certificate(leaf.certPem).issuerName.toArrayBuffer());
      const subject = new Uint8Array(new x509.X509Certificate(c.certPem).subjectName.toArrayBuffer());
      expect(hex(issuer)).toBe(hex(subject));
      // And in the certificate's own bytes, not only after a re-encoding.
      expect(hex(pemDecode(leaf.certPem))).toContain(hex(subject));
    }
  });

  test("a leaf it signs is accepted by a TLS client trusting only this CA; another CA's is not", async () => {
    const leaf = await (await createLeafMinter(ca)).get("demo.example");
    const other = await (await createLeafMinter(await createCa("other-zzzzz"))).get("demo.example");
    const handshake = (context: tls.SecureContext) =>
      new Promise<string>((resolve) => {
        const server = tls.createServer({ SNICallback: (_n, cb) => cb(null, context) }, (s) => s.end("ok"));
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as { port: number }).port;
          const c = tls.connect({ host: "127.0.0.1", port, servername: "demo.example", ca: [ca.certPem] });
          c.on("secureConnect", () => {
            c.end();
            server.close();
            resolve("trusted");
          });
          c.on("error", (e) => {
            server.close();
            resolve((e as NodeJS.ErrnoException).code ?? e.message);
          });
        });
      });
    expect(await handshake(leaf.context)).toBe("trusted");
    expect(await handshake(other.context)).not.toBe("trusted");
  });
});
