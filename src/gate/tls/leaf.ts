import { isIP } from "node:net";
import tls from "node:tls";
import type { CaMaterial } from "./ca.ts";
import { issuerFacts, leafCert, pem, pemDecode } from "./der.ts";

// Leaf certificates for terminated hosts, minted on first use and cached.
// ECDSA P-256 with the host as the only SAN: a leaf is good for exactly the
// name the CONNECT asked for, nothing wider (no wildcards). Encoded in
// der.ts: @peculiar/x509 cost the gate tens of ms and about 10 MB at its
// first terminated request.

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
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

// An IP literal's bytes for an iPAddress SAN (4 or 16); null for a name.
export function ipBytes(host: string): Uint8Array | null {
  const v = isIP(host);
  if (v === 4) return Uint8Array.from(host.split(".").map(Number));
  if (v !== 6) return null;
  const text = host.replace(/%.*$/, ""); // a zone names a link, not an address
  const groups = (part: string): number[] =>
    part === ""
      ? []
      : part.split(":").flatMap((g) => {
          if (!g.includes(".")) return [parseInt(g, 16)];
          const q = g.split(".").map(Number);
          return [(q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!];
        });
  const cut = text.indexOf("::");
  const head = groups(cut < 0 ? text : text.slice(0, cut));
  const tail = cut < 0 ? [] : groups(text.slice(cut + 2));
  const all = cut < 0 ? head : [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

export async function createLeafMinter(ca: CaMaterial, opts: { maxEntries?: number } = {}): Promise<LeafMinter> {
  const maxEntries = opts.maxEntries ?? 1000;
  // The CA's key and certificate are read now: a bad one stops the gate
  // from starting, not its first request.
  const caKey = await crypto.subtle.importKey("pkcs8", new Uint8Array(pemDecode(ca.keyPem)), EC, false, ["sign"]);
  const issuer = await issuerFacts(pemDecode(ca.certPem));
  // Promise cache: concurrent CONNECTs to a new host share one mint.
  const cache = new Map<string, Promise<Leaf>>();
  let minted = 0;

  async function mint(host: string): Promise<Leaf> {
    const keys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
    const now = Date.now();
    const ip = ipBytes(host);
    const der = await leafCert({
      dnsName: ip === null ? host : null,
      ip,
      issuer,
      issuerKey: caKey,
      publicKey: keys.publicKey,
      notBefore: new Date(now - 60 * 60 * 1000),
      notAfter: new Date(Math.min(now + LEAF_DAYS * 86400_000, issuer.notAfter.getTime())),
      serial: crypto.getRandomValues(new Uint8Array(16)),
    });
    const certPem = pem(der, "CERTIFICATE");
    const keyPem = pem(new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey)), "PRIVATE KEY");
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
