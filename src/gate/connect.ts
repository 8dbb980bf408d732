import type net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { GateContext } from "./context.ts";
import type { RequestHead } from "./http/head.ts";
import { ESTABLISHED, sendBlocked } from "./http/respond.ts";
import { SocketReader, writeAll } from "./io.ts";
import { decide, policyPart } from "./policy/decide.ts";
import { normalizeHost, splitHostPort } from "./policy/normalize.ts";
import type { Tunnel } from "./target.ts";
import { passthrough } from "./passthrough.ts";
import { auditName, redactHost, sniMismatch } from "./redact.ts";
import type { AuditRecord } from "./types.ts";
import { isInternalHost } from "./vhosts/index.ts";

// CONNECT: the CONNECT target (authority) is checked against the policy,
// then the tunnel is either terminated (a TLSSocket around the client
// socket with a leaf minted for the host, and the requests inside served
// like any other by `serve`) or, on a `tls: passthrough` route, relayed as
// bytes once its plaintext handshake was checked (passthrough.ts). Every
// byte the bottle chooses at this layer (the authority, the SNI) is looked
// at here or there.

// The request loop (server.ts serveHttp) for the requests inside a
// terminated tunnel.
export type ServeTunnel = (sock: Duplex, reader: SocketReader, tunnel: Tunnel) => Promise<unknown>;

export async function handleConnect(
  ctx: GateContext,
  raw: net.Socket,
  reader: SocketReader,
  head: RequestHead,
  serve: ServeTunnel,
): Promise<void> {
  const dlp = ctx.gen.dlp;
  const hp = splitHostPort(head.target, null);
  const fail = async (status: number, reason: string, layer: AuditRecord["layer"], host: string, port = 0) => {
    ctx.record({ method: "CONNECT", host, port, decision: "deny", reason, layer, status });
    await sendBlocked(raw, status, status === 403 ? reason : `gate: ${reason}`, true);
  };
  // Text the bottle sent that is not even a host name is still shown only
  // when it scans clean.
  const shown = (s: string) => auditName(dlp, s.slice(0, 255)).shown;
  if (!hp) return fail(400, "CONNECT target must be host:port", "gate", shown(head.target));
  const n = normalizeHost(hp.host);
  if (!n.ok) return fail(403, `invalid host: ${n.reason}`, "policy", shown(hp.host), hp.port);
  const tunnel: Tunnel = { host: n.host, isIp: n.isIp, port: hp.port };

  // The authority is data the bottle chose, on every route kind: scanned
  // before anything resolves it (a passthrough route resolves it at once),
  // refused and audited (redacted) at once, before the client can hang up.
  const internal = isInternalHost(n.host);
  const d = internal ? null : decide({ host: n.host, port: hp.port, method: "CONNECT", path: null, scheme: "https" }, ctx.gen.policy);
  const hf = dlp.scanHost(n.host, d?.allow ? policyPart(d.route) : null);
  if (hf) return fail(403, `dlp: ${hf.rule} in host`, "dlp", redactHost(dlp, n.host), hp.port);

  if (internal) {
    const vhost = ctx.gen.vhosts.get(n.host);
    if (!vhost) return fail(403, "unknown internal host", "policy", n.host, hp.port);
    ctx.record({ method: "CONNECT", host: n.host, port: hp.port, decision: "allow", layer: vhost.layer, status: 200 });
    return terminate(ctx, raw, reader, tunnel, serve);
  }
  if (!d!.allow) return fail(403, d!.reason, "policy", n.host, hp.port);
  const route = d!.route;
  if (route.tls === "passthrough") return passthrough(ctx, raw, reader, tunnel, route);
  ctx.record({ method: "CONNECT", host: n.host, port: hp.port, decision: "allow", layer: "policy", status: 200 });
  return terminate(ctx, raw, reader, tunnel, serve);
}

// TLS termination: the bottle's CA signs a leaf for exactly the CONNECT
// host, and a ClientHello naming another host (SNI) is refused.
async function terminate(ctx: GateContext, raw: net.Socket, reader: SocketReader, tunnel: Tunnel, serve: ServeTunnel): Promise<void> {
  let leaf;
  try {
    leaf = await ctx.leaves.get(tunnel.host);
  } catch (e) {
    ctx.log.error(`leaf for ${tunnel.host}: ${(e as Error).message}`);
    ctx.record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "deny", reason: "cannot mint certificate", layer: "tls", status: 502 });
    await sendBlocked(raw, 502, "gate: cannot mint certificate", true);
    return;
  }
  try {
    await writeAll(raw, ESTABLISHED);
  } catch {
    return;
  }
  // Tracked from its 200 on (channels.ts): a reload before the bottle's
  // first byte closes it too.
  let tlsSock: tls.TLSSocket | null = null;
  if (!isInternalHost(tunnel.host)) {
    const close = () => {
      tlsSock?.destroy();
      raw.destroy();
    };
    const ch = { kind: "tunnel", host: tunnel.host, port: tunnel.port, scheme: "https", address: null, close } as const;
    if (!ctx.channels.add(ch, raw, ctx.gen.policy, ctx.record)) return;
  }
  // The first byte says what the tunnel carries: a TLS handshake record
  // (0x16), or plain HTTP (Node's undici proxy agent and `curl -p` tunnel
  // http:// URLs through CONNECT too).
  const idle = setTimeout(() => raw.destroy(), ctx.limits.idleTimeoutMs);
  const first = await reader.read();
  clearTimeout(idle);
  if (!first) return;
  reader.unshift(first);
  if (first[0] !== 0x16) return plainTunnel(ctx, raw, reader, tunnel, serve);
  const rest = reader.detach();
  if (rest.length) raw.unshift(rest);
  let sniRefused: string | null = null;
  tlsSock = new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: leaf.context,
    ALPNProtocols: ["http/1.1"],
    SNICallback: (name, cb) => {
      const n = normalizeHost(name);
      if (n.ok && n.host === tunnel.host) return cb(null, leaf.context);
      sniRefused = sniMismatch(ctx.gen.dlp, n.ok ? n.host : name, tunnel.host);
      cb(new Error("SNI does not match the CONNECT target"), undefined);
    },
  });
  tlsSock.on("error", (e) => {
    if (sniRefused !== null) {
      ctx.record({
        method: "CONNECT",
        host: tunnel.host,
        port: tunnel.port,
        decision: "deny",
        reason: sniRefused,
        layer: "tls",
        status: null,
      });
      sniRefused = null;
    } else {
      ctx.log.info(`tls ${tunnel.host}: ${e.message}`);
    }
    tlsSock.destroy();
    raw.destroy();
  });
  // The handshake is paced by the bottle: bounded like a head, or a drip
  // of ClientHello bytes would hold a connection for ever.
  const handshake = setTimeout(() => {
    ctx.record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "deny", reason: "TLS handshake not finished in time", layer: "tls", status: null });
    tlsSock?.destroy();
    raw.destroy();
  }, ctx.limits.headerTimeoutMs);
  raw.once("close", () => clearTimeout(handshake));
  tlsSock.once("secure", () => {
    clearTimeout(handshake);
    serve(tlsSock, new SocketReader(tlsSock), tunnel)
      .catch((e) => ctx.log.error(`tunnel ${tunnel.host}: ${(e as Error).message}`))
      .finally(() => {
        tlsSock.end();
        setTimeout(() => raw.destroy(), 1000).unref();
      });
  });
  tlsSock.once("close", () => raw.destroy());
}

// Plain HTTP inside a tunnel: served like the requests inside a terminated
// one, under the same policy (target.ts: the Host must name the CONNECT
// authority), as http. Credentials are never injected over it (decide()).
async function plainTunnel(ctx: GateContext, raw: net.Socket, reader: SocketReader, tunnel: Tunnel, serve: ServeTunnel): Promise<void> {
  try {
    await serve(raw, reader, { ...tunnel, plain: true });
  } catch (e) {
    ctx.log.error(`tunnel ${tunnel.host}: ${(e as Error).message}`);
  } finally {
    raw.end();
    setTimeout(() => raw.destroy(), 1000).unref();
  }
}
