import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { paths } from "../state/paths.ts";
import { auditPath, auditRecord, openAudit, openLog, type AuditEntry, type AuditSink, type GateLog } from "./audit.ts";
import { injectCredential, withoutHeader } from "./credentials.ts";
import { compileDlp, type Dlp } from "./dlp/index.ts";
import { BodyError, requestBody } from "./http/body.ts";
import { ChunkedDecoder, ChunkedError, encodeChunk, LAST_CHUNK } from "./http/chunked.ts";
import {
  endToEndHeaders,
  headerValue,
  headerValues,
  HOP_BY_HOP,
  parseResponseHead,
  requestFraming,
  responseFraming,
  serializeHeaders,
  wantsClose,
  type Framing,
  type RequestHead,
} from "./http/head.ts";
import { readRequestHead } from "./http/read-head.ts";
import { Deny, sendBlocked, simpleResponse, STATUS_TEXT } from "./http/respond.ts";
import { SocketReader, writeAll } from "./io.ts";
import { decide } from "./policy/decide.ts";
import { normalizeHost, splitHostPort } from "./policy/normalize.ts";
import { poolKey, UpstreamPool, type Upstream } from "./pool.ts";
import { compileResponseGuard, type ResponseGuard } from "./response-guard.ts";
import { ensureCa, type CaMaterial } from "./tls/ca.ts";
import { createLeafMinter, type LeafMinter } from "./tls/leaf.ts";
import { parseClientHelloSni } from "./tls/sni.ts";
import { targetOf, type Target, type Tunnel } from "./target.ts";
import type { AuditRecord, GatePolicy, GateSecrets } from "./types.ts";
import { dial, resolveUpstream, type Resolver } from "./upstream.ts";
import { buildVhosts, isInternalHost, vhostRegistrations, type Vhost, type VhostFactories } from "./vhosts/index.ts";
import type { EgressRoute } from "../manifest/schema.ts";

// The gate: one bottle's HTTP/1.1 forward proxy, the only way out of the
// bottle. Raw node:net sockets and our own strict parser (http/head.ts), so
// that every limit and every smuggling rule is ours; `CONNECT` tunnels are
// either terminated (node:tls TLSSocket wrapped around the client socket,
// leaf minted per host from the bottle's CA) or passed through as bytes.
//
// Request bodies on DLP routes: the gate holds the body in memory up to
// `dlpWindowBytes` (8 MiB), scanning as it arrives, and sends nothing
// upstream before the whole body scanned clean: for every body up to the
// window the upstream receives nothing at all when DLP finds something (the
// TCP/TLS connection may already be open; it carries no request bytes).
// Past the window (or when all requests together hold
// `dlpMemoryBudgetBytes`) the body streams: the gate forwards what it has
// scanned minus a hold-back tail (`dlpHoldbackBytes`, 64 KiB, far more than
// the scanner's overlap, so a secret straddling a chunk boundary is never
// half sent), and on a finding destroys the upstream connection before the
// body is complete, so the upstream never gets a complete request (no final
// chunk / short of Content-Length). What an attacker can get out that way is
// body data that scanned clean, which DLP would have let through anyway; for
// compressed bodies the hold-back is counted in compressed bytes, so there
// it is best effort. The upstream's response is read while the body is
// still being sent (early 401/413 answers must not deadlock).
//
// Responses on `auth` routes (the gate injected a real credential into the
// request): an upstream that echoes the request (httpbin-style /headers, a
// debug endpoint, an error page printing the request) would hand the real
// value to the bottle. So for those requests only (response-guard.ts):
//  - the request's Accept-Encoding becomes `identity`: the scan below is an
//    exact byte match, which a compressed body defeats (the value's bytes
//    depend on what precedes it, and a decode-scan cannot say which
//    compressed bytes are safe to forward before the value is complete).
//    An upstream that compresses anyway gets a 502 `blocked: compressed
//    response on a credential route` (any Content-Encoding or
//    Transfer-Encoding other than identity/chunked, on a response with a
//    body);
//  - the response head (status line, header names and values) containing
//    any of the bottle's credential values: 502 `blocked: upstream response
//    contained the credential for <token_ref>`, upstream connection closed;
//  - the body streams through the guard: each credential value (raw, JSON-
//    or URL-encoded) is replaced by the placeholder the bottle already
//    holds for it, same length, so Content-Length stays valid and the
//    agent's tooling still works; between chunks only the longest suffix
//    that could start a value is held back (usually 0 bytes; an SSE event
//    ending in "\n\n" goes out at once). Chunked bodies are re-encoded
//    (trailers dropped); close-delimited ones relayed to EOF. Audited as
//    layer "dlp", decision "allow" (replaced) or "deny" (refused), naming the
//    token_ref only.
// Every credential the gate holds is looked for, not only the injected one
// (a host may get two). Routes without `auth` are not scanned at all and
// keep the zero-copy relay: the gate never sent them a credential, so they
// cannot echo one; a host that learned a value elsewhere could hand the
// bottle only something that DLP blocks in every outgoing request and that
// the gate injects on its own host anyway; and an exact scan there would
// mean uncompressed responses from every host. Not covered: an upstream
// that transforms the value (base64, hex, truncation) before reflecting it.

export interface GateLimits {
  maxConnections: number;
  // From the first byte of a request head to its end (slowloris).
  headerTimeoutMs: number;
  // Idle keep-alive connection / idle tunnel.
  idleTimeoutMs: number;
  upstreamConnectTimeoutMs: number;
  // Upstream silent for this long while a response is awaited.
  upstreamIdleTimeoutMs: number;
  dlpWindowBytes: number;
  dlpHoldbackBytes: number;
  // All requests together never hold more than this for DLP: past it, a
  // body switches to the streaming mode early (1024 connections times an
  // 8 MiB window would otherwise be 8 GiB).
  dlpMemoryBudgetBytes: number;
}

export const DEFAULT_LIMITS: GateLimits = {
  maxConnections: 1024,
  headerTimeoutMs: 15_000,
  idleTimeoutMs: 300_000,
  upstreamConnectTimeoutMs: 10_000,
  upstreamIdleTimeoutMs: 300_000,
  dlpWindowBytes: 8 * 1024 * 1024,
  dlpHoldbackBytes: 64 * 1024,
  dlpMemoryBudgetBytes: 128 * 1024 * 1024,
};

export interface StartGateOptions {
  stateDir: string;
  policy: GatePolicy;
  secrets: GateSecrets;
  // "127.0.0.1:PORT" (PORT may be 0) or {host, port}: an extra TCP listener
  // for tests and benchmarks.
  listen?: string | { host: string; port: number };
  // Listen on <state>/sock/gate.sock (default true).
  socket?: boolean;
  // Default: the registered vhosts (vhosts/index.ts registerVhost).
  vhosts?: VhostFactories;
  limits?: Partial<GateLimits>;
  resolver?: Resolver;
  // CAs trusted for upstream TLS (default: the bundled roots only).
  upstreamCa?: string[];
}

export interface RunningGate {
  socketPath: string;
  port?: number;
  ca: CaMaterial;
  reload(policy: GatePolicy): Promise<void>;
  close(): Promise<void>;
  stats(): { connections: number; leaves: number; upstreamDials: number; pooled: number };
}

interface Generation {
  policy: GatePolicy;
  dlp: Dlp;
  vhosts: Map<string, Vhost>;
  // Scans responses on `auth` routes for the real credentials (null: no
  // credential long enough to match). See the note at the top.
  guard: ResponseGuard | null;
}

export async function startGate(opts: StartGateOptions): Promise<RunningGate> {
  const limits: GateLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const stateDir = opts.stateDir;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const log: GateLog = openLog(paths.gateLog(stateDir));
  const audit: AuditSink = openAudit(paths.audit(stateDir));
  const ca = await ensureCa(paths.caDir(stateDir), opts.policy.slug);
  const leaves: LeafMinter = await createLeafMinter(ca);
  const factories = vhostRegistrations(opts.vhosts);
  const secrets = opts.secrets;

  async function makeGeneration(policy: GatePolicy): Promise<Generation> {
    // The real credentials are secrets too: the gate puts them only where
    // it injects them itself, after scanning.
    const dlp = compileDlp({
      secrets: [...secrets.secrets, ...Object.entries(secrets.credentials).map(([name, value]) => ({ name, value }))],
      placeholders: Object.entries(policy.placeholders).map(([name, value]) => ({ name, value })),
    });
    const vhosts = await buildVhosts(factories, { stateDir, policy, secrets, log: (m) => log.info(m) });
    return { policy, dlp, vhosts, guard: compileResponseGuard(secrets.credentials, policy.placeholders) };
  }

  let gen = await makeGeneration(opts.policy);
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const refused = new Set<net.Socket>();

  const pool = new UpstreamPool();
  let dlpHeld = 0;
  let dials = 0;

  // ---------------------------------------------------------------- audit

  const record = (e: AuditEntry): void => audit.write(auditRecord(e, gen.policy.slug));

  // --------------------------------------------------------- connections

  function onConnection(raw: net.Socket): void {
    if (connections >= limits.maxConnections) {
      raw.on("error", () => {});
      refused.add(raw);
      raw.once("close", () => refused.delete(raw));
      raw.end(simpleResponse(503, "gate: too many connections\n", true));
      setTimeout(() => raw.destroy(), 1000).unref();
      log.error(`connection refused: ${connections} open connections (limit ${limits.maxConnections})`);
      return;
    }
    connections++;
    sockets.add(raw);
    raw.setNoDelay?.(true);
    raw.on("error", () => {});
    raw.once("close", () => {
      connections--;
      sockets.delete(raw);
    });
    serveHttp(raw, new SocketReader(raw), null).catch((e) => {
      log.error(`connection handler: ${e instanceof Error ? e.message : String(e)}`);
      raw.destroy();
    });
  }

  // The request loop of one client connection, plain or inside a
  // terminated tunnel.
  async function serveHttp(sock: Duplex, reader: SocketReader, tunnel: Tunnel | null): Promise<void> {
    const state: ConnState = { upstream: null, clean: false };
    try {
      for (;;) {
        const r = await readRequestHead(sock, reader, limits);
        if (r.kind === "closed") return;
        if (r.kind === "error") {
          record({
            method: "-",
            host: tunnel?.host ?? "-",
            port: tunnel?.port ?? 0,
            decision: "deny",
            reason: `malformed request: ${r.reason}`,
            layer: "gate",
            status: r.status,
          });
          await sendBlocked(sock, r.status, `gate: ${r.reason}`, true);
          return;
        }
        const keep = await handleRequest(sock, reader, r.head, tunnel, state);
        if (keep === "taken") return; // CONNECT: the tunnel owns the socket now
        if (!keep) {
          sock.end();
          return;
        }
      }
    } finally {
      if (state.upstream && state.clean) pool.park(state.upstream);
      else state.upstream?.sock.destroy();
    }
  }

  async function handleRequest(
    sock: Duplex,
    reader: SocketReader,
    head: RequestHead,
    tunnel: Tunnel | null,
    state: ConnState,
  ): Promise<boolean | "taken"> {
    const fr = requestFraming(head);
    const method = head.method;
    if (!("ok" in fr)) {
      record({ method, host: tunnel?.host ?? "-", port: tunnel?.port ?? 0, decision: "deny", reason: fr.reason, layer: "gate", status: fr.status });
      await sendBlocked(sock, fr.status, `gate: ${fr.reason}`, true);
      return false;
    }
    const framing = fr.framing;
    const hosts = headerValues(head.headers, "host");
    if (hosts.length > 1) {
      record({ method, host: tunnel?.host ?? "-", port: tunnel?.port ?? 0, decision: "deny", reason: "several Host headers", layer: "gate", status: 400 });
      await sendBlocked(sock, 400, "gate: several Host headers", true);
      return false;
    }
    if (method === "CONNECT") {
      if (tunnel || framing.kind !== "none") {
        await sendBlocked(sock, 400, "gate: unexpected CONNECT", true);
        return false;
      }
      await handleConnect(sock as net.Socket, reader, head);
      return "taken";
    }
    const t = targetOf(head, tunnel);
    if ("status" in t) {
      record({
        method,
        host: tunnel?.host ?? "-",
        port: tunnel?.port ?? 0,
        decision: "deny",
        reason: t.reason,
        layer: t.status === 403 ? "policy" : "gate",
        status: t.status,
      });
      await sendBlocked(sock, t.status, t.status === 403 ? t.reason : `gate: ${t.reason}`, true);
      return false;
    }
    const clientWantsClose = wantsClose(head.version, head.headers);
    try {
      if (isInternalHost(t.host)) return await serveVhost(sock, reader, head, framing, t, clientWantsClose);
      return await forward(sock, reader, head, framing, t, state, clientWantsClose);
    } catch (e) {
      if (e instanceof Deny) {
        record({ method, host: t.host, port: t.port, path: e.layer === "dlp" ? null : auditPath(t.pathAndQuery), decision: "deny", reason: e.reason, layer: e.layer, status: e.status });
        // A request whose body was not (fully) read cannot be followed by
        // another one on this connection.
        const close = clientWantsClose || framing.kind !== "none";
        await sendBlocked(sock, e.status, e.reason, close);
        return !close;
      }
      if (e instanceof BodyError) {
        record({ method, host: t.host, port: t.port, path: auditPath(t.pathAndQuery), decision: "deny", reason: e.message, layer: "gate", status: e.status });
        await sendBlocked(sock, e.status, `gate: ${e.message}`, true);
        return false;
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------- CONNECT

  async function handleConnect(raw: net.Socket, reader: SocketReader, head: RequestHead): Promise<void> {
    const hp = splitHostPort(head.target, null);
    const fail = async (status: number, reason: string, layer: AuditRecord["layer"], host = head.target.slice(0, 255), port = 0) => {
      record({ method: "CONNECT", host, port, decision: "deny", reason, layer, status });
      await sendBlocked(raw, status, status === 403 ? reason : `gate: ${reason}`, true);
    };
    if (!hp) return fail(400, "CONNECT target must be host:port", "gate");
    const n = normalizeHost(hp.host);
    if (!n.ok) return fail(403, `invalid host: ${n.reason}`, "policy", hp.host.slice(0, 255), hp.port);
    const tunnel: Tunnel = { host: n.host, isIp: n.isIp, port: hp.port };

    if (isInternalHost(n.host)) {
      if (!gen.vhosts.has(n.host)) return fail(403, "unknown internal host", "policy", n.host, hp.port);
      record({ method: "CONNECT", host: n.host, port: hp.port, decision: "allow", layer: gen.vhosts.get(n.host)!.layer, status: 200 });
      return terminate(raw, reader, tunnel);
    }
    const d = decide({ host: n.host, port: hp.port, method: "CONNECT", path: null, scheme: "https" }, gen.policy);
    if (!d.allow) return fail(403, d.reason, "policy", n.host, hp.port);
    const route = d.route;
    if (route.tls === "passthrough") return passthrough(raw, reader, tunnel, route);
    record({ method: "CONNECT", host: n.host, port: hp.port, decision: "allow", layer: "policy", status: 200 });
    return terminate(raw, reader, tunnel);
  }

  async function terminate(raw: net.Socket, reader: SocketReader, tunnel: Tunnel): Promise<void> {
    let leaf;
    try {
      leaf = await leaves.get(tunnel.host);
    } catch (e) {
      log.error(`leaf for ${tunnel.host}: ${(e as Error).message}`);
      await sendBlocked(raw, 502, "gate: cannot mint certificate", true);
      return;
    }
    try {
      await writeAll(raw, "HTTP/1.1 200 Connection established\r\n\r\n");
    } catch {
      return;
    }
    const rest = reader.detach();
    if (rest.length) raw.unshift(rest);
    let sniRefused: string | null = null;
    const tlsSock = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: leaf.context,
      ALPNProtocols: ["http/1.1"],
      SNICallback: (name, cb) => {
        const n = normalizeHost(name);
        if (n.ok && n.host === tunnel.host) return cb(null, leaf.context);
        sniRefused = n.ok ? n.host : name.slice(0, 255);
        cb(new Error("SNI does not match the CONNECT target"), undefined);
      },
    });
    tlsSock.on("error", (e) => {
      if (sniRefused !== null) {
        record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "deny", reason: `TLS SNI ${sniRefused} does not match CONNECT target ${tunnel.host}`, layer: "tls", status: null });
        sniRefused = null;
      } else {
        log.info(`tls ${tunnel.host}: ${e.message}`);
      }
      tlsSock.destroy();
      raw.destroy();
    });
    tlsSock.once("secure", () => {
      serveHttp(tlsSock, new SocketReader(tlsSock), tunnel)
        .catch((e) => log.error(`tunnel ${tunnel.host}: ${(e as Error).message}`))
        .finally(() => {
          tlsSock.end();
          setTimeout(() => raw.destroy(), 1000).unref();
        });
    });
    tlsSock.once("close", () => raw.destroy());
  }

  async function passthrough(raw: net.Socket, reader: SocketReader, tunnel: Tunnel, route: EgressRoute): Promise<void> {
    const deny = async (status: number, reason: string, layer: AuditRecord["layer"]) => {
      record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "deny", reason, layer, status });
      await sendBlocked(raw, status, status === 403 ? reason : `gate: ${reason}`, true);
    };
    const res = await resolveUpstream(tunnel.host, tunnel.isIp, route.allow_private, opts.resolver);
    if (!res.ok) return deny(403, res.reason, "ssrf");
    let up: net.Socket;
    try {
      up = await dial({ address: res.address, port: tunnel.port, tlsHost: null, timeoutMs: limits.upstreamConnectTimeoutMs });
    } catch (e) {
      return deny(502, `cannot connect to ${tunnel.host}:${tunnel.port}: ${(e as Error).message}`, "gate");
    }
    up.on("error", () => raw.destroy());
    raw.on("close", () => up.destroy());
    up.on("close", () => raw.destroy());
    try {
      await writeAll(raw, "HTTP/1.1 200 Connection established\r\n\r\n");
    } catch {
      up.destroy();
      return;
    }
    // Read the ClientHello before any byte goes upstream: a tunnel whose SNI
    // names another host is refused (the CONNECT host is authoritative).
    let hello: Buffer = Buffer.alloc(0);
    for (;;) {
      const c = await reader.read();
      if (!c) {
        up.destroy();
        return;
      }
      hello = hello.length ? Buffer.concat([hello, c]) : c;
      const h = parseClientHelloSni(hello);
      if (h.kind === "incomplete") continue;
      let refuse: string | null = null;
      if (h.kind === "error") refuse = `not a TLS ClientHello (${h.reason})`;
      else if (h.sni !== null) {
        const n = normalizeHost(h.sni);
        if (!n.ok || n.host !== tunnel.host) refuse = `TLS SNI ${n.ok ? n.host : "(invalid)"} does not match CONNECT target ${tunnel.host}`;
      }
      if (refuse) {
        record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "deny", reason: refuse, layer: "tls", status: null });
        up.destroy();
        raw.destroy();
        return;
      }
      break;
    }
    record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "allow", layer: "policy", status: 200 });
    const rest = reader.detach();
    up.write(Buffer.concat([hello, rest]));
    raw.setTimeout(limits.idleTimeoutMs, () => raw.destroy());
    relayBytes(raw, up);
    relayBytes(up, raw);
    raw.resume();
  }

  // ----------------------------------------------------------- forwarding

  async function forward(
    sock: Duplex,
    reader: SocketReader,
    head: RequestHead,
    framing: Framing,
    t: Target,
    state: ConnState,
    clientWantsClose: boolean,
    fresh = false,
  ): Promise<boolean> {
    const g = gen;
    const method = head.method;
    const d = decide({ host: t.host, port: t.port, method, path: t.pathAndQuery, scheme: t.scheme }, g.policy);
    if (!d.allow) {
      // A denied URL may still carry a secret, and the reason can quote the
      // path: never let it reach the audit file.
      const f = g.dlp.scanUrl(t.host, t.pathAndQuery);
      if (f) throw new Deny(403, `dlp: ${f.rule} in ${f.where}`, "dlp");
      throw new Deny(403, d.reason, "policy");
    }
    const route = d.route;
    const dlpOn = route.dlp === "on";
    if (dlpOn) {
      const f = g.dlp.scanUrl(t.host, t.pathAndQuery);
      if (f) throw new Deny(403, `dlp: ${f.rule} in ${f.where}`, "dlp");
      const visible = route.auth ? withoutHeader(head.headers, route.auth.header) : head.headers;
      const hf = g.dlp.scanHeaders(visible);
      if (hf) throw new Deny(403, `dlp: ${hf.rule} in ${hf.where}`, "dlp");
    }
    let headers = endToEndHeaders(head.headers);
    let guard: ResponseGuard | null = null;
    if (route.auth) {
      const real = secrets.credentials[route.auth.token_ref];
      if (real === undefined) throw new Deny(403, `credential ${route.auth.token_ref} was not given to the gate`, "gate");
      headers = injectCredential(headers, route.auth, real);
      // The response is scanned for the credential: ask for it uncompressed
      // so that the scan is exact (see the note at the top).
      guard = g.guard;
      if (guard) headers = [...withoutHeader(headers, "accept-encoding"), ["accept-encoding", "identity"]];
    }
    const key = poolKey(t, route);
    let up = state.upstream && state.upstream.key === key && !state.upstream.sock.destroyed ? state.upstream : null;
    if (!up && state.upstream) {
      if (state.clean) pool.park(state.upstream);
      else state.upstream.sock.destroy();
      state.upstream = null;
    }
    if (!up && !fresh) {
      up = pool.take(key);
      if (up) state.upstream = up;
    }
    // A kept-alive connection may have been closed by the server just as
    // we reuse it: a bodiless request is then retried once on a new one.
    const reused = up !== null;
    state.clean = false;
    let dialing: Promise<Upstream> | null = null;
    if (!up) {
      const res = await resolveUpstream(t.host, t.isIp, route.allow_private, opts.resolver);
      if (!res.ok) throw new Deny(403, res.reason, "ssrf");
      dials++;
      dialing = dial({
        address: res.address,
        port: t.port,
        tlsHost: t.scheme === "https" ? t.host : null,
        tlsHostIsIp: t.isIp,
        timeoutMs: limits.upstreamConnectTimeoutMs,
        ca: opts.upstreamCa,
      }).then((s) => ({ key, sock: s, reader: new SocketReader(s) }));
      // Rejection is handled where it is awaited; avoid an unhandled one if
      // DLP refuses the body first.
      dialing.catch(() => {});
    }
    const expect = headerValue(head.headers, "expect");
    if (expect !== undefined) {
      if (expect.toLowerCase() !== "100-continue") throw new Deny(417, "gate: unsupported Expect", "gate");
      // The gate answers 100-continue itself: it reads (and scans) the body
      // before the upstream is involved.
      if (framing.kind !== "none") await writeAll(sock, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    const requestLine = `${method} ${t.pathAndQuery} ${head.version}\r\n`;
    const baseHead = requestLine + `host: ${t.authority}\r\n` + serializeHeaders(headers);

    const getUp = async (): Promise<Upstream> => {
      if (up) return up;
      try {
        up = await dialing!;
      } catch (e) {
        throw new UpstreamError(`cannot connect to ${t.host}:${t.port}: ${(e as Error).message}`);
      }
      state.upstream = up;
      return up;
    };

    // The response is read as soon as the request head is upstream, while
    // the body is still being sent: a server may answer early (401, 413)
    // without reading the body, and waiting for the body to drain first
    // would deadlock both directions.
    const ctl: RelayCtl = { aborted: false, headSent: false, done: false, retryable: reused && framing.kind === "none" };
    // Assigned from a callback: TypeScript cannot follow that, hence the box.
    const resp: { p: Promise<RelayResult> | null } = { p: null };
    const headSent = (u: Upstream) => {
      resp.p = relayResponse(sock, u, method, ctl, guard);
      resp.p.then(() => (ctl.done = true), () => (ctl.done = true));
    };
    let bytesOut = 0;
    let sendError: unknown = null;
    try {
      if (framing.kind === "none") {
        const u = await getUp();
        await writeAll(u.sock, baseHead + "\r\n");
        headSent(u);
      } else if (!dlpOn) {
        const u = await getUp();
        const chunked = framing.kind === "chunked";
        await writeAll(u.sock, baseHead + (chunked ? "transfer-encoding: chunked\r\n" : `content-length: ${(framing as { length: number }).length}\r\n`) + "\r\n");
        headSent(u);
        for await (const c of requestBody(reader, framing)) {
          bytesOut += c.length;
          if (ctl.done) throw new EarlyResponse();
          if (chunked) for (const p of encodeChunk(c)) await writeAll(u.sock, p);
          else await writeAll(u.sock, c);
        }
        if (chunked) await writeAll(u.sock, LAST_CHUNK);
      } else {
        bytesOut = await sendScannedBody(reader, framing, head, baseHead, g.dlp, getUp, headSent, ctl);
      }
    } catch (e) {
      sendError = e;
    }

    if (sendError !== null) {
      const e = sendError;
      // Whatever happened, this upstream connection carries an incomplete
      // request: it is never reused.
      ctl.aborted = !ctl.done;
      if (up) up.sock.destroy();
      else dialing?.then((u) => u.sock.destroy(), () => {});
      state.upstream = null;
      if (ctl.done && resp.p) {
        // The upstream answered before taking the whole body (early
        // response); the client got that answer. Its unread body makes the
        // connection unusable.
        const r = await resp.p;
        record({ method, host: t.host, port: t.port, path: auditPath(t.pathAndQuery), decision: r.dlp?.decision ?? "allow", reason: r.dlp?.reason ?? "response before end of request body", layer: r.dlp ? "dlp" : "policy", status: r.status, bytes_out: bytesOut, bytes_in: r.bytesIn });
        return false;
      }
      if (resp.p) await resp.p.catch(() => null);
      const deny =
        e instanceof Deny
          ? e
          : e instanceof BodyError
            ? new Deny(e.status, `gate: ${e.message}`, "gate")
            : e instanceof UpstreamError
              ? new Deny(502, `gate: ${e.message}`, "gate")
              : new Deny(502, `gate: upstream ${t.host} closed the connection`, "gate");
      if (ctl.headSent) {
        // Part of a response already went to the client: no 403 possible,
        // cut the connection so the client sees a failed request.
        record({ method, host: t.host, port: t.port, path: deny.layer === "dlp" ? null : auditPath(t.pathAndQuery), decision: "deny", reason: deny.reason, layer: deny.layer, status: null, bytes_out: bytesOut });
        sock.destroy();
        return false;
      }
      throw deny;
    }

    const u = up!;
    const r = await resp.p!;
    if (r.error === STALE) {
      u.sock.destroy();
      state.upstream = null;
      return forward(sock, reader, head, framing, t, state, clientWantsClose, true);
    }
    record({
      method,
      host: t.host,
      port: t.port,
      path: auditPath(t.pathAndQuery),
      decision: r.dlp?.decision ?? "allow",
      reason: r.dlp?.reason ?? r.error,
      layer: r.dlp ? "dlp" : "policy",
      status: r.status,
      bytes_out: bytesOut,
      bytes_in: r.bytesIn,
    });
    if (!r.upstreamReusable) {
      u.sock.destroy();
      state.upstream = null;
    } else {
      state.clean = true;
    }
    return r.clientMayContinue && !clientWantsClose;
  }

  // DLP routes: hold up to the window, scanning as the body arrives; the
  // upstream sees the head only once the whole body (or the window) has
  // scanned clean. See the note at the top of this file.
  async function sendScannedBody(
    reader: SocketReader,
    framing: Framing,
    head: RequestHead,
    baseHead: string,
    dlp: Dlp,
    getUp: () => Promise<Upstream>,
    headSent: (u: Upstream) => void,
    ctl: RelayCtl,
  ): Promise<number> {
    const scanner = dlp.bodyScanner(headerValue(head.headers, "content-encoding") ?? null);
    const held: Uint8Array[] = [];
    let heldBytes = 0;
    let total = 0;
    let streaming: Upstream | null = null;
    const chunked = framing.kind === "chunked";
    const send = async (u: Upstream, data: Uint8Array) => {
      if (chunked) for (const p of encodeChunk(data)) await writeAll(u.sock, p);
      else await writeAll(u.sock, data);
    };
    try {
      for await (const c of requestBody(reader, framing)) {
        total += c.length;
        const f = scanner.push(c);
        if (f) throw new Deny(403, `dlp: ${f.rule} in ${f.where}`, "dlp");
        // Copy: the reader's buffers may be views into a larger chunk.
        held.push(Buffer.from(c));
        heldBytes += c.length;
        dlpHeld += c.length;
        if (!streaming && (total > limits.dlpWindowBytes || dlpHeld > limits.dlpMemoryBudgetBytes)) {
          streaming = await getUp();
          await writeAll(streaming.sock, baseHead + (chunked ? "transfer-encoding: chunked\r\n" : `content-length: ${(framing as { length: number }).length}\r\n`) + "\r\n");
          headSent(streaming);
        }
        if (ctl.done) throw new EarlyResponse();
        if (streaming) {
          // Forward all but the hold-back tail.
          while (held.length > 0 && heldBytes - held[0]!.length >= limits.dlpHoldbackBytes) {
            const d = held.shift()!;
            heldBytes -= d.length;
            dlpHeld -= d.length;
            await send(streaming, d);
          }
        }
      }
    } catch (e) {
      dlpHeld -= heldBytes;
      throw e;
    }
    dlpHeld -= heldBytes;
    const f = scanner.end();
    if (f) throw new Deny(403, `dlp: ${f.rule} in ${f.where}`, "dlp");
    const u = streaming ?? (await getUp());
    if (!streaming) {
      await writeAll(u.sock, baseHead + `content-length: ${heldBytes}\r\n\r\n`);
      headSent(u);
      for (const d of held) await writeAll(u.sock, d);
    } else {
      for (const d of held) await send(u, d);
      if (chunked) await writeAll(u.sock, LAST_CHUNK);
    }
    return total;
  }

  // Relays one response (after any 1xx) from the upstream to the client,
  // raw bytes, finding its end from its framing. With a guard (auth
  // routes) the head is checked and the body goes through the guard.
  async function relayResponse(
    sock: Duplex,
    u: Upstream,
    method: string,
    ctl: RelayCtl,
    guard: ResponseGuard | null,
  ): Promise<RelayResult> {
    let buf: Buffer = Buffer.alloc(0);
    let bytesIn = 0;
    const idle = () => setTimeout(() => u.sock.destroy(), limits.upstreamIdleTimeoutMs);
    let timer = idle();
    const touch = () => {
      clearTimeout(timer);
      timer = idle();
    };
    const bad = async (reason: string): Promise<RelayResult> => {
      if (!ctl.aborted && !ctl.headSent) await sendBlocked(sock, 502, `gate: ${reason}`, true);
      return { status: 502, bytesIn, upstreamReusable: false, clientMayContinue: false, error: reason };
    };
    // The guard refuses a response: nothing more is read from this
    // upstream connection, and the client gets a 502 (or, when part of a
    // response already went out, a cut connection).
    const refuse = async (reason: string): Promise<RelayResult> => {
      u.sock.destroy();
      if (ctl.headSent) sock.destroy();
      else if (!ctl.aborted) await sendBlocked(sock, 502, `blocked: ${reason}`, true);
      return { status: 502, bytesIn, upstreamReusable: false, clientMayContinue: false, error: null, dlp: { decision: "deny", reason } };
    };
    try {
      for (;;) {
        const c = await u.reader.read();
        touch();
        if (!c) {
          if (bytesIn === 0 && buf.length === 0) {
            if (ctl.retryable && !ctl.headSent) return { status: null, bytesIn, upstreamReusable: false, clientMayContinue: false, error: STALE };
            return bad("upstream closed the connection without a response");
          }
          return bad("truncated upstream response head");
        }
        buf = buf.length ? Buffer.concat([buf, c]) : c;
        const r = parseResponseHead(buf);
        if (r.kind === "incomplete") continue;
        if (r.kind === "error") return bad(r.reason);
        const res = r.head;
        const whole = buf;
        const headBytes = buf.subarray(0, r.size);
        let rest = buf.subarray(r.size);
        buf = Buffer.alloc(0);
        if (res.status === 101) return bad("protocol upgrades are not supported");
        if (guard) {
          const ref = guard.find(headBytes);
          if (ref !== null) return refuse(`upstream response contained the credential for ${ref}`);
        }
        if (res.status >= 100 && res.status < 200) {
          // Interim response (100 Continue, 103 Early Hints): relay and
          // wait for the final one. The gate already answered any Expect.
          if (res.status !== 100) {
            ctl.headSent = true;
            await writeAll(sock, headBytes);
          }
          bytesIn += headBytes.length;
          if (rest.length) {
            buf = Buffer.from(rest);
            const again = parseResponseHead(buf);
            if (again.kind === "incomplete") continue;
            u.reader.unshift(buf);
            buf = Buffer.alloc(0);
          }
          continue;
        }
        const fr = responseFraming(method, res);
        if (!("ok" in fr)) return bad(fr.reason);
        const framing = fr.framing;
        const upstreamClose = wantsClose(res.version, res.headers);
        if (ctl.aborted) return { status: res.status, bytesIn, upstreamReusable: false, clientMayContinue: false, error: "request abandoned" };
        if (guard && framing.kind !== "none") {
          // Only an identity body can be scanned exactly (we asked for one).
          const codings = [...headerValues(res.headers, "content-encoding"), ...headerValues(res.headers, "transfer-encoding")]
            .join(",")
            .split(",")
            .map((c) => c.trim().toLowerCase())
            .filter((c) => c !== "" && c !== "identity" && c !== "chunked");
          if (codings.length > 0) return refuse("compressed response on a credential route");
          ctl.headSent = true;
          return relayGuarded(sock, u, res.status, framing, headBytes, rest, guard, upstreamClose, bytesIn, touch);
        }
        ctl.headSent = true;
        if (framing.kind === "length" && rest.length >= framing.length) {
          // The usual small response: head and body arrived together, so
          // they leave together (one write, one wake-up for the client).
          const all = whole.subarray(0, r.size + framing.length);
          await writeAll(sock, all);
          bytesIn += all.length;
          return { status: res.status, bytesIn, upstreamReusable: !upstreamClose && rest.length === framing.length, clientMayContinue: true, error: null };
        }
        await writeAll(sock, headBytes);
        bytesIn += headBytes.length;
        if (framing.kind === "none") {
          if (rest.length) u.reader.unshift(rest);
          return { status: res.status, bytesIn, upstreamReusable: !upstreamClose && rest.length === 0, clientMayContinue: true, error: null };
        }
        if (framing.kind === "length") {
          let left = framing.length;
          for (;;) {
            if (rest.length) {
              const take = Math.min(left, rest.length);
              await writeAll(sock, rest.subarray(0, take));
              bytesIn += take;
              left -= take;
              rest = rest.subarray(take);
              if (left === 0) {
                return { status: res.status, bytesIn, upstreamReusable: !upstreamClose && rest.length === 0, clientMayContinue: true, error: null };
              }
            }
            const n = await u.reader.read();
            touch();
            if (!n) {
              sock.destroy();
              return { status: res.status, bytesIn, upstreamReusable: false, clientMayContinue: false, error: "upstream closed mid-body" };
            }
            rest = n;
          }
        }
        if (framing.kind === "chunked") {
          const dec = new ChunkedDecoder();
          for (;;) {
            if (rest.length) {
              let end: number;
              try {
                end = dec.push(rest).end;
              } catch (e) {
                sock.destroy();
                return { status: res.status, bytesIn, upstreamReusable: false, clientMayContinue: false, error: `bad chunked response: ${(e as ChunkedError).message}` };
              }
              const out = end >= 0 ? rest.subarray(0, end) : rest;
              await writeAll(sock, out);
              bytesIn += out.length;
              if (end >= 0) {
                return { status: res.status, bytesIn, upstreamReusable: !upstreamClose && end === rest.length, clientMayContinue: true, error: null };
              }
            }
            const n = await u.reader.read();
            touch();
            if (!n) {
              sock.destroy();
              return { status: res.status, bytesIn, upstreamReusable: false, clientMayContinue: false, error: "upstream closed mid-body" };
            }
            rest = n;
          }
        }
        // Delimited by close: relay to EOF, then the client connection must
        // close too (that is how the client learns where the body ends).
        for (;;) {
          if (rest.length) {
            await writeAll(sock, rest);
            bytesIn += rest.length;
          }
          const n = await u.reader.read();
          touch();
          if (!n) return { status: res.status, bytesIn, upstreamReusable: false, clientMayContinue: false, error: null };
          rest = n;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  // The body of a response on an auth route: every chunk goes through the
  // guard (credential replaced by its same-length stand-in, a possible
  // start of one held until the next chunk decides). Content-Length stays
  // valid (same length); a chunked body is decoded and re-encoded (its
  // trailers, which would bypass the guard, are dropped); a body delimited
  // by close is relayed to EOF.
  async function relayGuarded(
    sock: Duplex,
    u: Upstream,
    status: number,
    framing: Framing,
    headBytes: Uint8Array,
    rest: Uint8Array,
    guard: ResponseGuard,
    upstreamClose: boolean,
    bytesIn: number,
    touch: () => void,
  ): Promise<RelayResult> {
    const gs = guard.stream();
    const replaced = new Set<string>();
    const pass = (c: Uint8Array): Uint8Array => {
      const r = gs.push(c);
      for (const ref of r.replaced) replaced.add(ref);
      return r.out;
    };
    const done = (upstreamReusable: boolean, clientMayContinue: boolean, error: string | null = null): RelayResult => ({
      status,
      bytesIn,
      upstreamReusable,
      clientMayContinue,
      error,
      dlp: replaced.size > 0 ? { decision: "allow", reason: `credential ${[...replaced].join(", ")} in response replaced by placeholder` } : undefined,
    });
    // The head leaves with the first body bytes (one write for the usual
    // small response), or alone at once when none came with it (an SSE
    // stream's client is waiting for it).
    let head: Uint8Array | null = headBytes;
    bytesIn += headBytes.length;
    const send = async (parts: Uint8Array[]) => {
      if (head) parts.unshift(head);
      head = null;
      const live = parts.filter((p) => p.length > 0);
      if (live.length === 1) await writeAll(sock, live[0]!);
      else if (live.length > 1) await writeAll(sock, Buffer.concat(live));
    };
    if (rest.length === 0) await send([]);
    const next = async (): Promise<Uint8Array | null> => {
      const n = await u.reader.read();
      touch();
      return n;
    };

    if (framing.kind === "length") {
      let left = framing.length;
      for (;;) {
        const take = Math.min(left, rest.length);
        if (take > 0) {
          left -= take;
          bytesIn += take;
          const out = pass(rest.subarray(0, take));
          await send(left === 0 ? [out, gs.end()] : [out]);
          if (left === 0) return done(!upstreamClose && rest.length === take, true);
        }
        const n = await next();
        if (!n) {
          sock.destroy();
          return done(false, false, "upstream closed mid-body");
        }
        rest = n;
      }
    }
    if (framing.kind === "chunked") {
      const dec = new ChunkedDecoder();
      for (;;) {
        if (rest.length) {
          let r: { data: Uint8Array[]; end: number };
          try {
            r = dec.push(rest);
          } catch (e) {
            sock.destroy();
            return done(false, false, `bad chunked response: ${(e as ChunkedError).message}`);
          }
          bytesIn += r.end >= 0 ? r.end : rest.length;
          const outs = r.data.map(pass);
          if (r.end >= 0) outs.push(gs.end());
          const size = outs.reduce((n, o) => n + o.length, 0);
          const parts = size > 0 ? [Buffer.from(size.toString(16) + "\r\n", "latin1"), ...outs, CRLF] : [];
          if (r.end >= 0) parts.push(LAST_CHUNK);
          await send(parts);
          if (r.end >= 0) return done(!upstreamClose && r.end === rest.length, true);
        }
        const n = await next();
        if (!n) {
          sock.destroy();
          return done(false, false, "upstream closed mid-body");
        }
        rest = n;
      }
    }
    // Delimited by close.
    for (;;) {
      if (rest.length) {
        bytesIn += rest.length;
        await send([pass(rest)]);
      }
      const n = await next();
      if (!n) {
        await send([gs.end()]);
        return done(false, false);
      }
      rest = n;
    }
  }

  // ---------------------------------------------------------------- vhosts

  async function serveVhost(
    sock: Duplex,
    reader: SocketReader,
    head: RequestHead,
    framing: Framing,
    t: Target,
    clientWantsClose: boolean,
  ): Promise<boolean> {
    const vhost = gen.vhosts.get(t.host);
    if (!vhost) throw new Deny(403, "unknown internal host", "policy");
    const layer = vhost.layer;
    const url = `${t.scheme}://${t.host}${t.port === (t.scheme === "https" ? 443 : 80) ? "" : ":" + t.port}${t.pathAndQuery === "*" ? "/" : t.pathAndQuery}`;
    const h = new Headers();
    for (const [k, v] of endToEndHeaders(head.headers)) h.append(k, v);
    h.set("host", t.authority);
    let consumed = framing.kind === "none";
    let bodyBytes = 0;
    let body: ReadableStream<Uint8Array> | null = null;
    if (framing.kind !== "none") {
      const it = requestBody(reader, framing);
      body = new ReadableStream<Uint8Array>({
        async pull(ctrl) {
          try {
            const n = await it.next();
            if (n.done) {
              consumed = true;
              ctrl.close();
            } else {
              bodyBytes += n.value.length;
              ctrl.enqueue(Buffer.from(n.value));
            }
          } catch (e) {
            ctrl.error(e);
          }
        },
      });
      const expect = headerValue(head.headers, "expect");
      if (expect?.toLowerCase() === "100-continue") await writeAll(sock, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    let res: Response;
    try {
      res = await vhost.handle(new Request(url, { method: head.method, headers: h, body, duplex: "half" } as RequestInit));
    } catch (e) {
      log.error(`vhost ${t.host}: ${(e as Error).message}`);
      res = new Response("gate: internal host failed\n", { status: 502 });
    }
    const noBody = head.method === "HEAD" || res.status === 204 || res.status === 304 || res.status < 200;
    let out = `HTTP/1.1 ${res.status} ${res.statusText || STATUS_TEXT[res.status] || "Status"}\r\n`;
    res.headers.forEach((v, k) => {
      if (!HOP_BY_HOP.has(k.toLowerCase())) out += `${k}: ${v.replace(/[\r\n]/g, " ")}\r\n`;
    });
    const close = clientWantsClose || !consumed;
    let bytesIn = 0;
    // Keep the handler's body stream drained even if the client vanishes.
    if (noBody || !res.body) {
      const len = noBody ? res.headers.get("content-length") : "0";
      out += (len !== null && len !== undefined ? `content-length: ${len}\r\n` : "") + (close ? "connection: close\r\n" : "") + "\r\n";
      await writeAll(sock, out);
      if (res.body) await res.body.cancel().catch(() => {});
    } else {
      out += "transfer-encoding: chunked\r\n" + (close ? "connection: close\r\n" : "") + "\r\n";
      await writeAll(sock, out);
      const rd = res.body.getReader();
      for (;;) {
        const n = await rd.read();
        if (n.done) break;
        bytesIn += n.value.length;
        for (const p of encodeChunk(n.value)) await writeAll(sock, p);
      }
      await writeAll(sock, LAST_CHUNK);
    }
    record({ method: head.method, host: t.host, port: t.port, path: auditPath(t.pathAndQuery), decision: "allow", layer, status: res.status, bytes_out: bodyBytes, bytes_in: bytesIn });
    return !close;
  }

  // ------------------------------------------------------------- listeners

  const servers: net.Server[] = [];
  const socketPath = paths.gateSocket(stateDir);
  if (opts.socket !== false) {
    const dir = paths.sockDir(stateDir);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (existsSync(socketPath)) unlinkSync(socketPath);
    const s = net.createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(socketPath, () => resolve());
    });
    // The bottle's user (any uid inside the container or VM) must be able
    // to connect; the 0700 state directory keeps other host users out.
    chmodSync(socketPath, 0o666);
    servers.push(s);
  }
  let port: number | undefined;
  if (opts.listen !== undefined) {
    const l = typeof opts.listen === "string" ? parseListen(opts.listen) : opts.listen;
    const s = net.createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(l.port, l.host, () => resolve());
    });
    port = (s.address() as net.AddressInfo).port;
    servers.push(s);
  }
  log.info(`gate started for ${opts.policy.slug}: ${opts.policy.routes.length} routes, CA ${ca.fingerprint.slice(0, 16)}`);

  return {
    socketPath,
    port,
    ca,
    async reload(policy: GatePolicy) {
      gen = await makeGeneration(policy);
      log.info(`policy reloaded: ${policy.routes.length} routes`);
    },
    async close() {
      pool.closeAll();
      // Stop accepting, then cut what is open (server.close() alone would
      // wait for every keep-alive client and tunnel to go away).
      const closed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      for (const s of sockets) s.destroy();
      for (const s of refused) s.destroy();
      // Bun's net.Server can miss a close of a socket that was ended by
      // us; never hang shutdown on it.
      await Promise.race([closed, new Promise((r) => setTimeout(r, 500).unref())]);
      if (opts.socket !== false && existsSync(socketPath)) {
        try {
          unlinkSync(socketPath);
        } catch {
          /* already gone */
        }
      }
      audit.close();
      log.close();
    },
    stats: () => ({ connections, leaves: leaves.size, upstreamDials: dials, pooled: pool.size }),
  };
}

class UpstreamError extends Error {}
class EarlyResponse extends Error {}

interface RelayCtl {
  // Set when the request was abandoned (DLP finding mid-body): the relay
  // must not answer the client itself.
  aborted: boolean;
  // Response bytes have gone to the client.
  headSent: boolean;
  done: boolean;
  // Request on a reused connection without a body: may be retried.
  retryable: boolean;
}

const STALE = "stale kept-alive upstream connection";
const CRLF = Buffer.from("\r\n", "latin1");

interface ConnState {
  upstream: Upstream | null;
  // The upstream finished its last exchange cleanly and may be pooled.
  clean: boolean;
}

interface RelayResult {
  status: number | null;
  bytesIn: number;
  upstreamReusable: boolean;
  clientMayContinue: boolean;
  error: string | null;
  // The response guard acted: a credential replaced ("allow") or the
  // response refused ("deny"). Audited with layer "dlp"; names the
  // token_ref, never the value.
  dlp?: { decision: "allow" | "deny"; reason: string };
}

// A byte relay with back-pressure, for passthrough tunnels. Plain data /
// drain handlers: measurably faster than stream.pipe() under Bun (about 7%
// on a loopback download), and these sockets never change hands afterwards.
function relayBytes(from: net.Socket, to: net.Socket): void {
  from.on("data", (d: Buffer) => {
    if (!to.write(d)) from.pause();
  });
  to.on("drain", () => from.resume());
  from.on("end", () => to.end());
}

function parseListen(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(":");
  const host = i > 0 ? s.slice(0, i).replace(/^\[|\]$/g, "") : "127.0.0.1";
  const port = Number(i >= 0 ? s.slice(i + 1) : s);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid listen address ${s}`);
  return { host, port };
}
