import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pem, pemDecode, selfSignedCa } from "./der.ts";

// The per-bottle certificate authority. The bottle trusts it (and only the
// bottle does): it lets the gate terminate TLS for hosts whose routes say
// `tls: terminate`, so that policy and DLP see the request. A fresh CA per
// bottle means a leaked key can only impersonate hosts to that one bottle.

export interface CaMaterial {
  certPem: string;
  keyPem: string;
  // SHA-256 of the DER certificate, lowercase hex: shown to users and logged
  // so that a CA can be identified without printing anything secret.
  fingerprint: string;
}

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
// Long enough that a resumed bottle keeps working; the CA never leaves the
// host and the bottle that trusts it.
const CA_DAYS = 825;

export function caPaths(dir: string): { cert: string; key: string } {
  return { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
}

// Load the CA from `dir` (ca.crt + ca.key) or create it. The key file is
// written 0600 through a temp file + rename so that no reader ever sees a
// partial key and it is never group/world readable, not even briefly.
export async function ensureCa(dir: string, slug = "bottle"): Promise<CaMaterial> {
  const p = caPaths(dir);
  if (existsSync(p.cert) && existsSync(p.key)) {
    const certPem = readFileSync(p.cert, "utf8");
    const keyPem = readFileSync(p.key, "utf8");
    return { certPem, keyPem, fingerprint: fingerprintPem(certPem) };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const made = await createCa(slug);
  writeAtomic(p.key, made.keyPem, 0o600);
  writeAtomic(p.cert, made.certPem, 0o644);
  return made;
}

// The certificate is encoded in der.ts, not with @peculiar/x509: loading
// that library costs `up` 30-60 ms on its critical path for this one cert.
export async function createCa(slug: string): Promise<CaMaterial> {
  const keys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const serial = crypto.getRandomValues(new Uint8Array(16));
  const der = await selfSignedCa({
    commonName: `claude-bottle CA ${sanitizeCn(slug)}`,
    organization: "claude-bottle",
    keys,
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + CA_DAYS * 24 * 60 * 60 * 1000),
    serial,
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const certPem = pem(der, "CERTIFICATE");
  const keyPem = pem(pkcs8, "PRIVATE KEY");
  return { certPem, keyPem, fingerprint: fingerprintPem(certPem) };
}

export function fingerprintPem(certPem: string): string {
  return new Bun.CryptoHasher("sha256").update(pemDecode(certPem)).digest("hex");
}

function sanitizeCn(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, "").slice(0, 48) || "bottle";
}

function writeAtomic(path: string, content: string, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}
