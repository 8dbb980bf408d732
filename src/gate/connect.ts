import type net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { EgressRoute } from "../manifest/schema.ts";
import type { GateContext } from "./context.ts";
import type { RequestHead } from "./http/head.ts";
import { sendBlocked } from "./http/respond.ts";
import { SocketReader, writeAll } from "./io.ts";
import { decide } from "./policy/decide.ts";
import { normalizeHost, splitHostPort } from "./policy/normalize.ts";
import type { Tunnel } from "./target.ts";
import { parseClientHelloSni } from "./tls/sni.ts";
import type { AuditRecord } from "./types.ts";
import { dial, resolveUpstream } from "./upstream.ts";
import { isInternalHost } from "./vhosts/index.ts";

// CONNECT: the CONNECT target (authority) is checked against the policy,
// then the tunnel is either terminated (a TLSSocket around the client
// socket with a leaf minted for the host, and the requests inside served
// like any other by `serve`) or, on a `tls: passthrough` route, relayed as
// bytes after the ClientHello's SNI was checked. Every byte the bottle
// chooses at this layer (the authority, the SNI) is looked at here.

// The request loop (server.ts serveHttp) for the requests inside a
// terminated tunnel.
export type ServeTunnel = (sock: Duplex, reader: SocketReader, tunnel: Tunnel) => Promise<void>;

const ESTABLISHED = "HTTP/1.1 200 Connection established\r\n\r\n";

export async function handleConnect(
  ctx: GateContext,
  raw: net.Socket,
  reader: SocketReader,
  head: RequestHead,
  serve: ServeTunnel,
): Promise<void> {
  const hp = splitHostPort(head.target, null);
  const fail = async (status: number, reason: string, layer: AuditRecord["layer"], host = head.target.slice(0, 255), port = 0) => {
    ctx.record({ method: "CONNECT", host, port, decision: "deny", reason, layer, status });
    await sendBlocked(raw, status, status === 403 ? reason : `gate: ${reason}`, true);
  };
  if (!hp) return fail(400, "CONNECT target must be host:port", "gate");
  const n = normalizeHost(hp.host);
  if (!n.ok) return fail(403, `invalid host: ${n.reason}`, "policy", hp.host.slice(0, 255), hp.port);
  const tunnel: Tunnel = { host: n.host, isIp: n.isIp, port: hp.port };

  if (isInternalHost(n.host)) {
    const vhost = ctx.gen.vhosts.get(n.host);
    if (!vhost) return fail(403, "unknown internal host", "policy", n.host, hp.port);
    ctx.record({ method: "CONNECT", host: n.host, port: hp.port, decision: "allow", layer: vhost.layer, status: 200 });
    return terminate(ctx, raw, reader, tunnel, serve);
  }
  const d = decide({ host: n.host, port: hp.port, method: "CONNECT", path: null, scheme: "https" }, ctx.gen.policy);
  if (!d.allow) return fail(403, d.reason, "policy", n.host, hp.port);
  const route = d.route;
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
    await sendBlocked(raw, 502, "gate: cannot mint certificate", true);
    return;
  }
  try {
    await writeAll(raw, ESTABLISHED);
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
      ctx.record({
        method: "CONNECT",
        host: tunnel.host,
        port: tunnel.port,
        decision: "deny",
        reason: `TLS SNI ${sniRefused} does not match CONNECT target ${tunnel.host}`,
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
  tlsSock.once("secure", () => {
    serve(tlsSock, new SocketReader(tlsSock), tunnel)
      .catch((e) => ctx.log.error(`tunnel ${tunnel.host}: ${(e as Error).message}`))
      .finally(() => {
        tlsSock.end();
        setTimeout(() => raw.destroy(), 1000).unref();
      });
  });
  tlsSock.once("close", () => raw.destroy());
}

// A passthrough tunnel: the gate never sees inside, so the address check
// (SSRF) and the ClientHello's SNI are all it can enforce.
async function passthrough(ctx: GateContext, raw: net.Socket, reader: SocketReader, tunnel: Tunnel, route: EgressRoute): Promise<void> {
  const deny = async (status: number, reason: string, layer: AuditRecord["layer"]) => {
    ctx.record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "deny", reason, layer, status });
    await sendBlocked(raw, status, status === 403 ? reason : `gate: ${reason}`, true);
  };
  const res = await resolveUpstream(tunnel.host, tunnel.isIp, route.allow_private, ctx.resolver);
  if (!res.ok) return deny(403, res.reason, "ssrf");
  let up: net.Socket;
  try {
    up = await dial({ address: res.address, port: tunnel.port, tlsHost: null, timeoutMs: ctx.limits.upstreamConnectTimeoutMs });
  } catch (e) {
    return deny(502, `cannot connect to ${tunnel.host}:${tunnel.port}: ${(e as Error).message}`, "gate");
  }
  up.on("error", () => raw.destroy());
  raw.on("close", () => up.destroy());
  up.on("close", () => raw.destroy());
  try {
    await writeAll(raw, ESTABLISHED);
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
      ctx.record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "deny", reason: refuse, layer: "tls", status: null });
      up.destroy();
      raw.destroy();
      return;
    }
    break;
  }
  ctx.record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "allow", layer: "policy", status: 200 });
  const rest = reader.detach();
  up.write(Buffer.concat([hello, rest]));
  raw.setTimeout(ctx.limits.idleTimeoutMs, () => raw.destroy());
  relayBytes(raw, up);
  relayBytes(up, raw);
  raw.resume();
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
