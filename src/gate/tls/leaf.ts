import { isIP } from "node:net";
import tls from "node:tls";
import type { CaMaterial } from "./ca.ts";
import { pemDecode } from "./der.ts";

// Leaf certificates for terminated hosts, minted on first use and cached.
// ECDSA P-256 with the host as the only SAN: a leaf is good for exactly the
// name the CONNECT asked for, nothing wider (no wildcards).

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIG = { name: "ECDSA", hash: "SHA-256" } as const;
const LEAF_DAYS = 30;

export interface Leaf {
  certPem: string;
  keyPem: string;
  context: tls.SecureContext;
}

export interface LeafMinter {
  // Resolves to the leaf for `host` (a normalised name or IP literal).
  get(host: string): Promise<Leaf>;
  readonly size: number;
  readonly minted: number;
}

export async function createLeafMinter(ca: CaMaterial, opts: { maxEntries?: number } = {}): Promise<LeafMinter> {
  const maxEntries = opts.maxEntries ?? 1000;
  // The CA key is checked now (a bad one stops the gate from starting);
  // @peculiar/x509, 30-60 ms to load, waits for the first mint, so a gate
  // starts (beside its bottle) without it.
  const caKey = await crypto.subtle.importKey("pkcs8", new Uint8Array(pemDecode(ca.keyPem)), EC, false, ["sign"]);
  let lib: Promise<{ x509: typeof import("@peculiar/x509"); caCert: import("@peculiar/x509").X509Certificate; caSki: import("@peculiar/x509").SubjectKeyIdentifierExtension }> | null = null;
  const load = () =>
    (lib ??= (async () => {
      const { x509 } = await import("./x509.ts");
      const caCert = new x509.X509Certificate(ca.certPem);
      return { x509, caCert, caSki: await x509.SubjectKeyIdentifierExtension.create(caCert.publicKey) };
    })());
  // Promise cache: concurrent CONNECTs to a new host share one mint.
  const cache = new Map<string, Promise<Leaf>>();
  let minted = 0;

  async function mint(host: string): Promise<Leaf> {
    const { x509, caCert, caSki } = await load();
    const keys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
    const now = Date.now();
    const notAfter = Math.min(now + LEAF_DAYS * 86400_000, caCert.notAfter.getTime());
    const san = isIP(host) ? { type: "ip" as const, value: host } : { type: "dns" as const, value: host };
    const cert = await x509.X509CertificateGenerator.create({
      subject: isIP(host) ? "CN=ip" : `CN=${host}`,
      // The CA's subject as its own bytes: GnuTLS (git's TLS in Debian)
      // matches issuer to subject byte for byte, and a name re-encoded from
      // its text can change string types.
      issuer: caCert.subjectName,
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: SIG,
      notBefore: new Date(now - 60 * 60 * 1000),
      notAfter: new Date(notAfter),
      extensions: [
        new x509.SubjectAlternativeNameExtension([san], false),
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.AuthorityKeyIdentifierExtension(caSki.keyId),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
    const certPem = cert.toString("pem") + "\n";
    const keyPem = x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n";
    // Send the chain (leaf + CA) like a real server would.
    const context = tls.createSecureContext({ cert: certPem + ca.certPem, key: keyPem, minVersion: "TLSv1.2" });
    minted++;
    return { certPem, keyPem, context };
  }

  return {
    get(host: string): Promise<Leaf> {
      const hit = cache.get(host);
      if (hit) {
        // Refresh recency (Map keeps insertion order: oldest first).
        cache.delete(host);
        cache.set(host, hit);
        return hit;
      }
      const p = mint(host);
      p.catch(() => cache.delete(host));
      cache.set(host, p);
      while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
      return p;
    },
    get size() {
      return cache.size;
    },
    get minted() {
      return minted;
    },
  };
}
