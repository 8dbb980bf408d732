// Shared fixtures for the gate's integration tests: a real HTTPS and HTTP
// upstream on 127.0.0.1 with their own test CA, the gate started in-process
// on a loopback port, curl as the client, and a raw CONNECT+TLS client for
// the cases curl cannot express.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { crc32, deflateRawSync } from "node:zlib";
import { startGate, type RunningGate, type StartGateOptions } from "../../../src/gate/server.ts";
import { createCa } from "../../../src/gate/tls/ca.ts";
import { upstreamTrust } from "../../../src/gate/upstream.ts";
import { x509 } from "../../helpers/x509.ts";
import type { GatePolicy, GateSecrets } from "../../../src/gate/types.ts";
import type { EgressRoute } from "../../../src/manifest/schema.ts";

export interface Seen {
  method: string;
  path: string;
  headers: Record<string, string>;
  bodyLength: number;
  bodySha: string;
}

export const BIG = Buffer.alloc(12 * 1024 * 1024);
for (let i = 0; i < BIG.length; i += 4) BIG.writeUInt32LE((i * 2654435761) >>> 0, i);
export const BIG_SHA = createHash("sha256").update(BIG).digest("hex");

export const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

// Names the tests use; the gate's resolver maps them to 127.0.0.1.
export const NAMES = ["up.test", "other.test", "pass.test", "sni.test", "api.test", "key.test"];

export interface Upstreams {
  caPath: string;
  httpsPort: number;
  httpPort: number;
  seen: Seen[];
  close(): void;
}

export async function multiSanCert(names: string[], caName = "upstream-test", ips: string[] = ["127.0.0.1"]) {
  const ca = await createCa(caName);
  const alg = { name: "ECDSA", namedCurve: "P-256" } as const;
  const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const caKey = await crypto.subtle.importKey("pkcs8", new Uint8Array(x509.PemConverter.decodeFirst(ca.keyPem)), alg, false, ["sign"]);
  const caCert = new x509.X509Certificate(ca.certPem);
  const cert = await x509.X509CertificateGenerator.create({
    subject: "CN=upstream",
    issuer: caCert.subject,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86400_000),
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        ...names.map((n) => ({ type: "dns" as const, value: n })),
        ...ips.map((ip) => ({ type: "ip" as const, value: ip })),
      ]),
    ],
  });
  const keyPem = x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
  return { caPem: ca.certPem, certPem: cert.toString("pem"), keyPem };
}

export async function startUpstreams(dir: string): Promise<Upstreams> {
  const c = await multiSanCert([...NAMES, "localhost"]);
  const caPath = join(dir, "upstream-ca.pem");
  writeFileSync(caPath, c.caPem);
  const seen: Seen[] = [];
  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname === "/big") return new Response(BIG);
    if (url.pathname === "/early") return new Response("early no\n", { status: 401 });
    const body = new Uint8Array(await req.arrayBuffer());
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => (headers[k] = v));
    const s: Seen = { method: req.method, path: url.pathname + url.search, headers, bodyLength: body.length, bodySha: sha(body) };
    seen.push(s);
    return Response.json(s);
  };
  const https = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert: c.certPem, key: c.keyPem }, fetch: handler });
  const http = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
  return {
    caPath,
    httpsPort: https.port!,
    httpPort: http.port!,
    seen,
    close() {
      https.stop(true);
      http.stop(true);
    },
  };
}

// The harness upstreams listen on 127.0.0.1: an exact host may reach every
// private address, a wildcard only the one it names (allow_private: true on
// a wildcard opens nothing).
export const route = (host: string, extra: Partial<EgressRoute> = {}): EgressRoute => ({
  host,
  tls: "terminate",
  dlp: "on",
  allow_private: host.startsWith("*.") ? ["127.0.0.1"] : true,
  ...extra,
});

export const policyOf = (routes: EgressRoute[], placeholders: Record<string, string> = {}): GatePolicy => ({
  version: 1,
  slug: "test-abcde",
  routes,
  git: [],
  supervise: false,
  placeholders,
});

export interface Env {
  dir: string;
  stateDir: string;
  up: Upstreams;
  gate: RunningGate;
  proxy: string;
  bottleCa: string;
  close(): Promise<void>;
}

// The test resolver: *.test names are the local upstreams.
export const testResolver = async (host: string) => {
  if (host.endsWith(".test")) return [{ address: "127.0.0.1", family: 4 }];
  const { lookup } = await import("node:dns/promises");
  return lookup(host, { all: true });
};

export async function startEnv(
  routes: (up: Upstreams) => EgressRoute[],
  opts: {
    secrets?: GateSecrets;
    placeholders?: Record<string, string>;
    extra?: Partial<StartGateOptions>;
    // More CAs (PEM) the gate trusts upstream, beside the harness upstream's.
    extraCa?: string[];
  } = {},
): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), "cb-gate-it-"));
  const up = await startUpstreams(dir);
  const stateDir = join(dir, "state");
  const gate = await startGate({
    stateDir,
    policy: policyOf(routes(up), opts.placeholders),
    secrets: opts.secrets ?? { credentials: {}, secrets: [] },
    listen: "127.0.0.1:0",
    resolver: testResolver,
    upstreamCa: [...upstreamTrust(readFileSync(up.caPath, "utf8")), ...(opts.extraCa ?? [])],
    vhosts: {},
    ...opts.extra,
  });
  return {
    dir,
    stateDir,
    up,
    gate,
    proxy: `http://127.0.0.1:${gate.port}`,
    bottleCa: join(stateDir, "ca", "ca.crt"),
    async close() {
      await gate.close();
      up.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CurlResult {
  status: number;
  connect: number;
  body: string;
  stderr: string;
}

// curl through the gate. Prints the body, then a marker line with the
// final status and the CONNECT status.
export async function curl(env: Env, args: string[]): Promise<CurlResult> {
  const p = Bun.spawn(
    ["curl", "-sS", "--max-time", "20", "--proxy", env.proxy, "--cacert", env.bottleCa, "-w", "\n@@%{http_code} %{http_connect}", ...args],
    { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
  );
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  const i = out.lastIndexOf("\n@@");
  const [status, connect] = out.slice(i + 3).split(" ").map(Number);
  return { status: status!, connect: connect!, body: out.slice(0, i), stderr: err };
}

export function auditLines(env: Env): Record<string, unknown>[] {
  let text = "";
  try {
    text = readFileSync(join(env.stateDir, "audit.jsonl"), "utf8");
  } catch {
    return [];
  }
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

// Raw client: CONNECT through the gate, then (optionally) TLS inside.
export async function connectTunnel(port: number, target: string): Promise<{ sock: net.Socket; response: string }> {
  const sock = net.connect(port, "127.0.0.1");
  await new Promise<void>((r, j) => {
    sock.once("connect", r);
    sock.once("error", j);
  });
  sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  const response = await readUntil(sock, "\r\n\r\n");
  return { sock, response };
}

export function readUntil(sock: net.Socket | tls.TLSSocket, marker: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => done(new Error(`timeout waiting for ${JSON.stringify(marker)}; got ${JSON.stringify(buf)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString("latin1");
      if (buf.includes(marker)) done(null);
    };
    const onEnd = () => done(buf.length ? null : new Error("closed"));
    const done = (e: Error | null) => {
      clearTimeout(timer);
      sock.off("data", onData);
      sock.off("end", onEnd);
      sock.off("close", onEnd);
      if (e) reject(e);
      else resolve(buf);
    };
    sock.on("data", onData);
    sock.once("end", onEnd);
    sock.once("close", onEnd);
  });
}

export function tlsOver(sock: net.Socket, servername: string, caPath: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({ socket: sock, servername, ca: readFileSync(caPath, "utf8"), ALPNProtocols: ["http/1.1"] });
    t.once("secureConnect", () => resolve(t));
    t.once("error", reject);
  });
}

// Reads one full HTTP response with content-length from a socket.
export async function readResponse(sock: net.Socket | tls.TLSSocket): Promise<{ status: number; headers: string; body: string }> {
  let buf = await readUntil(sock, "\r\n\r\n");
  const headEnd = buf.indexOf("\r\n\r\n");
  const head = buf.slice(0, headEnd);
  const m = /content-length: (\d+)/i.exec(head);
  const len = m ? Number(m[1]) : 0;
  while (buf.length - headEnd - 4 < len) buf += await readUntil(sock, "", 5000).catch(() => "");
  return { status: Number(head.split(" ")[1]), headers: head, body: buf.slice(headEnd + 4, headEnd + 4 + len) };
}

export async function rawRequest(port: number, data: string | Buffer, timeoutMs = 5000): Promise<string> {
  const sock = net.connect(port, "127.0.0.1");
  sock.on("error", () => {});
  await new Promise<void>((r) => sock.once("connect", r));
  sock.write(data);
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    }, timeoutMs);
    sock.on("data", (d) => chunks.push(Buffer.from(d)));
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
  });
}

// A zip of one deflated entry (a local header and its data, no central
// directory: what a receiver reading by local headers needs).
export function zipOf(name: string, data: Uint8Array): Buffer {
  const body = deflateRawSync(data);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(8, 8);
  h.writeUInt32LE(crc32(data) >>> 0, 14);
  h.writeUInt32LE(body.length, 18);
  h.writeUInt32LE(data.length, 22);
  h.writeUInt16LE(name.length, 26);
  return Buffer.concat([h, Buffer.from(name), body]);
}
