import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { createCa, type CaMaterial } from "../../../../src/gate/tls/ca.ts";
import { issuerFacts, leafCert, oid, pem, pemDecode, tlv } from "../../../../src/gate/tls/der.ts";
import { createLeafMinter, ipBytes, type Leaf } from "../../../../src/gate/tls/leaf.ts";

// The gate's leaves are DER written by hand (der.ts leafCert). Checked here
// by the clients an agent uses, each with its own X.509 code, trusting only
// the bottle's CA: OpenSSL (`openssl verify -x509_strict`, and curl, which
// is built on it here), GnuTLS (git's https, libcurl-gnutls on Debian) and
// node's TLS. GnuTLS compares a leaf's issuer with its CA's subject byte
// for byte; a leaf once failed there with a name re-encoded from its text
// (another string type): that exact case is built below and must fail for
// git while OpenSSL, which compares names canonically, still takes it.

const dir = mkdtempSync(join(tmpdir(), "cb-leaf-clients-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function run(argv: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

// The same, without blocking: the server the client talks to runs in this
// process.
async function runAsync(argv: string[], env: Record<string, string> = {}) {
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...env } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

// An https server presenting `leaf` (chain: leaf + CA) for any name; it
// answers every request with 404, which is enough for a client to have
// finished a verified handshake.
async function serve(leaf: { certPem: string; keyPem: string }, caPem: string): Promise<{ port: number; close(): void }> {
  const server = tls.createServer({ cert: leaf.certPem + caPem, key: leaf.keyPem }, (s) => {
    s.on("error", () => {});
    s.once("data", () => s.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

// git (GnuTLS) over https to host:port resolved to 127.0.0.1: "trusted"
// once the handshake verified (the 404 that follows is fine).
async function git(host: string, port: number, caFile: string): Promise<string> {
  const r = await runAsync(["git", "-c", `http.curloptResolve=${host}:${port}:127.0.0.1`, "ls-remote", `https://${host}:${port}/x.git`], { GIT_SSL_CAINFO: caFile, GIT_TERMINAL_PROMPT: "0" });
  if (/certificate|SSL|TLS|issuer/i.test(r.err)) return r.err.trim().split("\n").at(-1)!;
  return /404|not found/i.test(r.err) ? "trusted" : `unexpected: ${r.err.trim()}`;
}

async function curl(url: string, caFile: string, resolve?: string): Promise<string> {
  const r = await runAsync(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", caFile, ...(resolve ? ["--resolve", resolve] : []), url]);
  return r.code === 0 && r.out === "404" ? "trusted" : r.err.trim();
}

function node(host: string, port: number, caPem: string): Promise<string> {
  return new Promise((resolve) => {
    const c = tls.connect({ host: "127.0.0.1", port, servername: ipBytes(host) ? undefined : host, ca: [caPem], checkServerIdentity: (_h, cert) => tls.checkServerIdentity(host, cert) });
    c.on("secureConnect", () => {
      c.end();
      resolve("trusted");
    });
    c.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
  });
}

describe("a minted leaf, as the clients in a bottle see it", () => {
  let ca: CaMaterial;
  let caFile: string;
  beforeAll(async () => {
    // An underscore makes the CA's name a UTF8String: the string type a
    // re-encoding from text would get wrong.
    ca = await createCa("under_score-x");
    caFile = join(dir, "ca.crt");
    writeFileSync(caFile, ca.certPem);
  });

  test("OpenSSL: exactly the extensions the gate's leaves have, and -x509_strict verifies it for its name only", async () => {
    const leaf = await (await createLeafMinter(ca)).get("api.example.test");
    const file = join(dir, "leaf.crt");
    writeFileSync(file, leaf.certPem);
    const text = run(["openssl", "x509", "-in", file, "-noout", "-text"]).out;
    expect(text).toContain("Version: 3 (0x2)");
    expect(text).toContain("Signature Algorithm: ecdsa-with-SHA256");
    expect(text).toContain("Subject: CN = api.example.test");
    expect(text).toContain("Issuer: CN = claude-bottle CA under_score-x, O = claude-bottle");
    expect(text).toMatch(/X509v3 Subject Alternative Name: \n\s+DNS:api\.example\.test\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
    expect(text).toContain("X509v3 Authority Key Identifier");
    expect(text).toContain("X509v3 Subject Key Identifier");
    const verify = (name: string) => run(["openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-verify_hostname", name, "-CAfile", caFile, file]);
    expect(verify("api.example.test").out.trim()).toBe(`${file}: OK`);
    expect(verify("evil.example.test").code).not.toBe(0);
    // The authority key identifier is the CA's subject key identifier.
    const caX = new X509Certificate(ca.certPem);
    const leafX = new X509Certificate(leaf.certPem);
    expect(leafX.checkIssued(caX)).toBe(true);
    expect(leafX.serialNumber).toMatch(/^[0-9A-F]{2,34}$/);
    expect(new Date(leafX.validTo).getTime() - Date.now()).toBeLessThanOrEqual(30 * 86400_000);
  });

  test("curl (OpenSSL), git (GnuTLS) and node trust it for its name; another CA's leaf is refused by all three", async () => {
    const leaf = await (await createLeafMinter(ca)).get("api.example.test");
    const foreign = await createCa("other-zzzzz");
    const stranger = await (await createLeafMinter(foreign)).get("api.example.test");
    for (const [l, want] of [
      [leaf, "trusted"],
      [stranger, "refused"],
    ] as const) {
      const s = await serve(l, want === "trusted" ? ca.certPem : foreign.certPem);
      try {
        const got = {
          curl: await curl(`https://api.example.test:${s.port}/`, caFile, `api.example.test:${s.port}:127.0.0.1`),
          git: await git("api.example.test", s.port, caFile),
          node: await node("api.example.test", s.port, ca.certPem),
        };
        if (want === "trusted") expect(got).toEqual({ curl: "trusted", git: "trusted", node: "trusted" });
        else for (const v of Object.values(got)) expect(v).not.toBe("trusted");
      } finally {
        s.close();
      }
    }
  });

  test("IP literals get an iPAddress SAN of the right bytes, v4 and v6", async () => {
    const minter = await createLeafMinter(ca);
    for (const [host, san] of [
      ["127.0.0.1", "IP Address:127.0.0.1"],
      ["::1", "IP Address:0:0:0:0:0:0:0:1"],
      ["fd00:1:2::a:b", "IP Address:FD00:1:2:0:0:0:A:B"],
      ["::ffff:10.1.2.3", "IP Address:0:0:0:0:0:FFFF:A01:203"],
    ] as const) {
      const x = new X509Certificate((await minter.get(host)).certPem);
      expect(x.subjectAltName).toBe(san);
      expect(x.checkIP(host)).toBe(host);
    }
    expect(hex(ipBytes("2001:db8::1")!)).toBe("20010db8000000000000000000000001");
    expect(hex(ipBytes("1:2:3:4:5:6:7:8")!)).toBe("00010002000300040005000600070008");
    expect(ipBytes("api.example.test")).toBeNull();
    const s = await serve(await minter.get("127.0.0.1"), ca.certPem);
    try {
      expect(await curl(`https://127.0.0.1:${s.port}/`, caFile)).toBe("trusted");
      expect(await node("127.0.0.1", s.port, ca.certPem)).toBe("trusted");
    } finally {
      s.close();
    }
  });

  test("GnuTLS: the issuer is the CA's subject byte for byte; the same name re-encoded (another string type) is refused by git, not by curl", async () => {
    const issuer = await issuerFacts(pemDecode(ca.certPem));
    const leaf = await (await createLeafMinter(ca)).get("api.example.test");
    expect(hex(pemDecode(leaf.certPem))).toContain(hex(issuer.subject));
    // The CA's name with its UTF8String turned into a PrintableString: the
    // same text, other bytes.
    const utf8 = tlv(0x0c, new TextEncoder().encode("claude-bottle CA under_score-x"));
    expect(hex(issuer.subject)).toContain(hex(utf8));
    const reencoded = Buffer.from(hex(issuer.subject).replace(hex(utf8), hex(tlv(0x13, new TextEncoder().encode("claude-bottle CA under_score-x")))), "hex");
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const caKey = await crypto.subtle.importKey("pkcs8", new Uint8Array(pemDecode(ca.keyPem)), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const bad = await leafCert({
      dnsName: "api.example.test",
      ip: null,
      issuer: { ...issuer, subject: new Uint8Array(reencoded) },
      issuerKey: caKey,
      publicKey: keys.publicKey,
      notBefore: new Date(Date.now() - 3600_000),
      notAfter: new Date(Date.now() + 86400_000),
      serial: Uint8Array.of(1, 2, 3),
    });
    const badLeaf = { certPem: pem(bad, "CERTIFICATE"), keyPem: pem(new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey)), "PRIVATE KEY") };
    for (const [l, gitWant] of [
      [leaf, "trusted"],
      [badLeaf, "refused"],
    ] as const) {
      const s = await serve(l, ca.certPem);
      try {
        expect(await curl(`https://api.example.test:${s.port}/`, caFile, `api.example.test:${s.port}:127.0.0.1`)).toBe("trusted");
        const g = await git("api.example.test", s.port, caFile);
        if (gitWant === "trusted") expect(g).toBe("trusted");
        else expect(g).toMatch(/server certificate verification failed/);
      } finally {
        s.close();
      }
    }
  });

  test("a CA made elsewhere (OpenSSL, UTF8String names, its own key identifier) gets leaves its clients accept", async () => {
    const key = join(dir, "ossl.key");
    const cert = join(dir, "ossl.crt");
    const r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=Other CA/O=Elsewhere", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", "-keyout", key, "-out", cert]);
    expect(r.code).toBe(0);
    const other: CaMaterial = { certPem: await Bun.file(cert).text(), keyPem: await Bun.file(key).text(), fingerprint: "" };
    const leaf = await (await createLeafMinter(other)).get("api.example.test");
    // Its validity ends with its CA's.
    expect(new Date(new X509Certificate(leaf.certPem).validTo).getTime()).toBeLessThanOrEqual(new Date(new X509Certificate(other.certPem).validTo).getTime());
    const s = await serve(leaf, other.certPem);
    try {
      expect(await git("api.example.test", s.port, cert)).toBe("trusted");
      expect(await curl(`https://api.example.test:${s.port}/`, cert, `api.example.test:${s.port}:127.0.0.1`)).toBe("trusted");
    } finally {
      s.close();
    }
  });
});

test("the leaf encoder refuses what a certificate cannot say", async () => {
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const base = { issuer: { subject: new Uint8Array([0x30, 0]), keyId: new Uint8Array(20), notAfter: new Date() }, issuerKey: keys.privateKey, publicKey: keys.publicKey, notBefore: new Date(), notAfter: new Date(), serial: Uint8Array.of(1) };
  await expect(leafCert({ ...base, dnsName: "bücher.example", ip: null })).rejects.toThrow(/ASCII/);
  await expect(leafCert({ ...base, dnsName: null, ip: null })).rejects.toThrow(/one DNS name or one IP/);
  expect(hex(oid("2.5.29.17"))).toBe("0603551d11");
});
