import { mkdirSync } from "node:fs";
import net from "node:net";
import type { Duplex } from "node:stream";
import { paths } from "../state/paths.ts";
import { auditPath, auditRecord, openAudit, openLog, type GateLog } from "./audit.ts";
import { answerReason } from "./block-hint.ts";
import { Channels } from "./channels.ts";
import { handleConnect } from "./connect.ts";
import { admitDoor } from "./door.ts";
import { DEFAULT_LIMITS, makeGeneration, type ConnState, type GateContext, type GateLimits } from "./context.ts";
import { forward } from "./forward.ts";
import { BodyError } from "./http/body.ts";
import { headerValues, requestFraming, wantsClose, type RequestHead } from "./http/head.ts";
import { readRequestHead } from "./http/read-head.ts";
import { Deny, sendAnswer, sendBlocked, simpleResponse } from "./http/respond.ts";
import { setReaderBudget, SocketReader } from "./io.ts";
import { openListeners, type ListenOptions } from "./listeners.ts";
import { UpstreamPool } from "./pool.ts";
import { REDACTED, safeEntry } from "./redact.ts";
import { targetOf, type Tunnel } from "./target.ts";
import { ensureCa, type CaMaterial } from "./tls/ca.ts";
import { createLeafMinter } from "./tls/leaf.ts";
import type { GatePolicy, GateSecrets } from "./types.ts";
import type { Resolver } from "./upstream.ts";
import { serveVhost } from "./vhosts/bridge.ts";
import { isInternalHost, vhostRegistrations, type VhostFactories } from "./vhosts/index.ts";

// The gate: one bottle's HTTP/1.1 forward proxy, the only way out of the
// bottle. How it treats request bodies (the DLP window) and responses on
// credential routes (the guard), and which file holds what:
// docs/design/gate.md. This file holds the listeners, admission, the
// request loop of a connection and the dispatch of each request to CONNECT
// (connect.ts), a virtual host (vhosts/bridge.ts) or an upstream
// (forward.ts).

export { DEFAULT_LIMITS, type GateLimits } from "./context.ts";

// Where it listens (stateDir, socket, door, listen): listeners.ts.
export interface StartGateOptions extends ListenOptions {
  policy: GatePolicy;
  secrets: GateSecrets;
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
  doorPort?: number;
  ca: CaMaterial;
  reload(policy: GatePolicy): Promise<void>;
  close(): Promise<void>;
  stats(): { connections: number; leaves: number; upstreamDials: number; pooled: number };
}

export async function startGate(opts: StartGateOptions): Promise<RunningGate> {
  const limits: GateLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  setReaderBudget(limits.readBufferBudgetBytes);
  const stateDir = opts.stateDir;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const log: GateLog = openLog(paths.gateLog(stateDir));
  const audit = openAudit(paths.audit(stateDir));
  const ca = await ensureCa(paths.caDir(stateDir), opts.policy.slug);
  const vhosts = vhostRegistrations(opts.vhosts);
  const ctx: GateContext = {
    limits,
    secrets: opts.secrets,
    leaves: await createLeafMinter(ca),
    pool: new UpstreamPool(limits.upstreamPoolPerKey),
    channels: new Channels(),
    resolver: opts.resolver,
    upstreamCa: opts.upstreamCa,
    log,
    record: (e) => audit.write(auditRecord(safeEntry(ctx.gen.dlp, e), ctx.gen.policy.slug)),
    gen: await makeGeneration(opts.policy, opts.secrets, vhosts, stateDir, log),
    dlpHeld: 0,
    dials: 0,
  };
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const refused = new Set<net.Socket>();

  // Admission: past maxConnections a client gets a 503 and the socket is
  // closed soon after, so a flood cannot pin the gate's memory. On the TCP
  // door (`hello` set) nothing is answered, not even that, before the token.
  function onConnection(raw: net.Socket, hello?: Buffer): void {
    if (connections >= limits.maxConnections) {
      raw.on("error", () => {});
      refused.add(raw);
      raw.once("close", () => refused.delete(raw));
      if (hello) raw.end();
      else raw.end(simpleResponse(503, "gate: too many connections\n", true));
      setTimeout(() => raw.destroy(), 1000).unref();
      log.error(`connection refused: ${connections} open connections (limit ${limits.maxConnections})`);
      ctx.record({ method: "-", host: "-", port: 0, decision: "deny", reason: `too many connections (limit ${limits.maxConnections})`, layer: "gate", status: 503 });
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
    const reader = new SocketReader(raw);
    (async () => {
      if (hello) {
        const v = await admitDoor(reader, hello, limits.doorTokenTimeoutMs);
        if (!v.ok) {
          // Audited like any refusal (`ls` counts it as blocked); the peer's
          // address says who knocked.
          ctx.record({ method: "-", host: "-", port: 0, decision: "deny", reason: `door: ${v.reason} from ${raw.remoteAddress}:${raw.remotePort}`, layer: "gate" });
          raw.destroy();
          return true;
        }
      }
      return serveHttp(raw, reader, null);
    })().then(
      (taken) => {
        // Done with this connection (its last answer said close, or the
        // client went away): it is destroyed once the answer had a moment
        // to leave. Ending it is not enough: a client that keeps writing
        // fills a paused socket, its close is never read, and the gate
        // would hold the connection for ever.
        if (!taken) setTimeout(() => raw.destroy(), 1000).unref();
      },
      (e) => {
        log.error(`connection handler: ${e instanceof Error ? e.message : String(e)}`);
        raw.destroy();
      },
    );
  }

  // The request loop of one client connection, plain or inside a
  // terminated tunnel. True: a CONNECT took the socket over.
  async function serveHttp(sock: Duplex, reader: SocketReader, tunnel: Tunnel | null): Promise<boolean> {
    const state: ConnState = { upstream: null, clean: false };
    try {
      for (;;) {
        const r = await readRequestHead(sock, reader, limits);
        if (r.kind === "closed") return false;
        if (r.kind === "error") {
          ctx.record({
            method: "-",
            host: tunnel?.host ?? "-",
            port: tunnel?.port ?? 0,
            decision: "deny",
            reason: `malformed request: ${r.reason}`,
            layer: "gate",
            status: r.status,
          });
          await sendBlocked(sock, r.status, `gate: ${r.reason}`, true);
          return false;
        }
        const keep = await handleRequest(sock, reader, r.head, tunnel, state);
        if (keep === "taken") return true; // CONNECT: the tunnel owns the socket now
        if (!keep) {
          sock.end();
          return false;
        }
      }
    } finally {
      if (state.upstream && state.clean) ctx.pool.park(state.upstream);
      else state.upstream?.sock.destroy();
    }
  }

  // One request: framing and Host checks, then CONNECT, a virtual host or
  // an upstream. A refusal thrown below (Deny) becomes one audit line and
  // one answer here. True: the connection may carry another request.
  async function handleRequest(
    sock: Duplex,
    reader: SocketReader,
    head: RequestHead,
    tunnel: Tunnel | null,
    state: ConnState,
  ): Promise<boolean | "taken"> {
    let method = head.method;
    const refuse = async (status: number, reason: string, layer: "gate" | "policy" | "dlp") => {
      ctx.record({ method, host: tunnel?.host ?? "-", port: tunnel?.port ?? 0, decision: "deny", reason, layer, status });
      await sendBlocked(sock, status, status === 403 ? reason : `gate: ${reason}`, true);
      return false;
    };
    // The method goes upstream as the bottle wrote it, and into the audit
    // line of any refusal below: scanned first, recorded redacted.
    const mf = ctx.gen.dlp.scanMethod(method);
    if (mf) {
      method = REDACTED;
      return refuse(403, `dlp: ${mf.rule} in method`, "dlp");
    }
    const fr = requestFraming(head);
    if (!("ok" in fr)) return refuse(fr.status, fr.reason, "gate");
    const framing = fr.framing;
    if (headerValues(head.headers, "host").length > 1) return refuse(400, "several Host headers", "gate");
    if (method === "CONNECT") {
      if (tunnel) return refuse(400, "CONNECT inside a tunnel", "gate");
      if (framing.kind !== "none") return refuse(400, "CONNECT with a body", "gate");
      await handleConnect(ctx, sock as net.Socket, reader, head, serveHttp);
      return "taken";
    }
    const t = targetOf(head, tunnel);
    if ("status" in t) return refuse(t.status, t.reason, t.status === 403 ? "policy" : "gate");
    const clientWantsClose = wantsClose(head.version, head.headers);
    try {
      if (isInternalHost(t.host)) return await serveVhost(ctx, sock, reader, head, framing, t, clientWantsClose);
      return await forward(ctx, sock, reader, head, framing, t, state, clientWantsClose);
    } catch (e) {
      if (e instanceof Deny) {
        ctx.record({ method, host: e.auditHost ?? t.host, port: t.port, path: e.layer === "dlp" ? null : auditPath(t.pathAndQuery), decision: "deny", reason: e.reason, layer: e.layer, status: e.status });
        // A request whose body was not (fully) read cannot be followed by
        // another one on this connection.
        const close = clientWantsClose || framing.kind !== "none" || e.answer !== undefined;
        if (e.answer) await sendAnswer(sock, e.answer);
        else await sendBlocked(sock, e.status, answerReason(e.reason, e.layer, t.host, ctx.gen.policy), close);
        return !close;
      }
      if (e instanceof BodyError) {
        ctx.record({ method, host: t.host, port: t.port, path: auditPath(t.pathAndQuery), decision: "deny", reason: e.message, layer: "gate", status: e.status });
        await sendBlocked(sock, e.status, `gate: ${e.message}`, true);
        return false;
      }
      throw e;
    }
  }

  const listeners = await openListeners(opts, onConnection);
  const door = opts.door ? `, door on ${opts.door.host}:${listeners.doorPort}` : "";
  log.info(`gate started for ${opts.policy.slug}: ${opts.policy.routes.length} routes, CA ${ca.fingerprint.slice(0, 16)}${door}`);

  return {
    socketPath: listeners.socketPath,
    port: listeners.port,
    doorPort: listeners.doorPort,
    ca,
    async reload(policy: GatePolicy) {
      ctx.gen = await makeGeneration(policy, opts.secrets, vhosts, stateDir, log);
      // What is already open was let through by the old policy: the new one
      // closes what it no longer allows (channels.ts).
      ctx.channels.revoke(policy, ctx.record, log);
      log.info(`policy reloaded: ${policy.routes.length} routes`);
    },
    async close() {
      ctx.pool.closeAll();
      // Stop accepting, then cut what is open (server.close() alone would
      // wait for every keep-alive client and tunnel to go away).
      const stopped = listeners.close();
      for (const s of sockets) s.destroy();
      for (const s of refused) s.destroy();
      await stopped;
      audit.close();
      log.close();
    },
    stats: () => ({ connections, leaves: ctx.leaves.size, upstreamDials: ctx.dials, pooled: ctx.pool.size }),
  };
}
