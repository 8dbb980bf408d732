import type net from "node:net";
import type { EgressRoute } from "../manifest/schema.ts";
import type { GateContext } from "./context.ts";
import { ESTABLISHED, sendBlocked } from "./http/respond.ts";
import { type SocketReader, writeAll } from "./io.ts";
import { normalizeHost } from "./policy/normalize.ts";
import { privateAllowance } from "./policy/private.ts";
import { sniMismatch } from "./redact.ts";
import type { Tunnel } from "./target.ts";
import { HelloWatch } from "./tls/hello-watch.ts";
import type { AuditRecord } from "./types.ts";
import { dial, resolveUpstream } from "./upstream.ts";

// A passthrough tunnel (`tls: passthrough`): the gate never sees inside,
// so the address check (SSRF) and the plaintext handshake are all it can
// enforce. Nothing goes upstream before the first ClientHello was read and
// its SNI named the CONNECT host; until the upstream's real ServerHello
// both directions go through a HelloWatch (tls/hello-watch.ts: a second
// ClientHello after a HelloRetryRequest is checked like the first, a TLS
// 1.2 resumption by session id is cut); after it, bytes.
export async function passthrough(ctx: GateContext, raw: net.Socket, reader: SocketReader, tunnel: Tunnel, route: EgressRoute): Promise<void> {
  const deny = async (status: number, reason: string, layer: AuditRecord["layer"]) => {
    ctx.record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "deny", reason, layer, status });
    await sendBlocked(raw, status, status === 403 ? reason : `gate: ${reason}`, true);
  };
  const res = await resolveUpstream(tunnel.host, tunnel.isIp, tunnel.port, privateAllowance(route), ctx.resolver);
  if (!res.ok) return res.unresolvable ? deny(502, res.reason, "gate") : deny(403, res.reason, "ssrf");
  let up: net.Socket;
  try {
    up = await dial({ address: res.address, port: tunnel.port, tlsHost: null, timeoutMs: ctx.limits.upstreamConnectTimeoutMs });
  } catch (e) {
    return deny(502, `cannot connect to ${tunnel.host}:${tunnel.port}: ${(e as Error).message}`, "gate");
  }
  up.on("error", () => raw.destroy());
  up.on("close", () => raw.destroy());
  try {
    await writeAll(raw, ESTABLISHED);
  } catch {
    up.destroy();
    return;
  }
  // One line for the tunnel's refusal, whichever side's bytes caused it.
  let refused = false;
  const refuse = (reason: string) => {
    if (refused) return;
    refused = true;
    ctx.record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "deny", reason, layer: "tls", status: null });
    up.destroy();
    raw.destroy();
  };
  // Tracked from its 200 on (channels.ts): a reload before the bottle's
  // ClientHello closes it too (its line is the revocation's).
  const close = () => {
    refused = true;
    raw.destroy();
    up.destroy();
  };
  const ch = { kind: "passthrough", host: tunnel.host, port: tunnel.port, scheme: "https", address: res.address, close } as const;
  if (!ctx.channels.add(ch, raw, ctx.gen.policy, ctx.record)) return;

  const watch = new HelloWatch((sni) => {
    // Without a name the upstream serves whichever it likes: only right
    // for a tunnel to an address, where a client sends none (RFC 6066 §3).
    if (sni === null) return tunnel.isIp ? null : `TLS ClientHello without SNI: the upstream would choose a name the gate cannot check (CONNECT target ${tunnel.host})`;
    const n = normalizeHost(sni);
    return n.ok && n.host === tunnel.host ? null : sniMismatch(ctx.gen.dlp, n.ok ? n.host : null, tunnel.host);
  });

  // The first ClientHello passed: the tunnel is open, and the upstream's
  // answer is read from now on.
  let opened = false;
  const open = () => {
    opened = true;
    ctx.record({ method: "CONNECT", host: tunnel.host, port: tunnel.port, decision: "allow", layer: "policy", status: 200 });
    up.on("data", fromUpstream);
  };
  const fromClient = (d: Buffer) => {
    const s = watch.client(d);
    if (s.refused !== null) return refuse(s.refused);
    if (s.out === null) return;
    if (!opened) open();
    if (!up.write(s.out)) raw.pause();
  };
  const fromUpstream = (d: Buffer) => {
    const s = watch.upstream(d);
    if (s.refused !== null) return refuse(s.refused);
    if (s.out !== null && !raw.write(s.out)) up.pause();
    if (!watch.done) return;
    // The handshake is past the point where a new plaintext ClientHello
    // could be read: from here on, a plain relay (the hot path).
    raw.off("data", fromClient);
    up.off("data", fromUpstream);
    const held = watch.takeHeld();
    if (held.length > 0 && !up.write(held)) raw.pause();
    relayBytes(raw, up);
    relayBytes(up, raw);
  };

  // The name was resolved and dialled for this tunnel: that left a trace
  // (a DNS lookup), so a tunnel that ends before its ClientHello gets its
  // line too.
  const clientEnded = () => {
    if (opened) up.end();
    else refuse("tunnel closed before a TLS ClientHello");
  };
  const rest = reader.detach();
  const endedAlready = reader.eof;
  raw.on("close", () => {
    if (!opened) refuse("tunnel closed before a TLS ClientHello");
    up.destroy();
  });
  raw.on("end", clientEnded);
  up.on("end", () => raw.end());
  up.on("drain", () => raw.resume());
  raw.on("drain", () => up.resume());
  raw.setTimeout(ctx.limits.idleTimeoutMs, () => raw.destroy());
  if (rest.length > 0) fromClient(rest);
  if (refused) return;
  if (endedAlready) return clientEnded();
  raw.on("data", fromClient);
  raw.resume();
}

// A byte relay with back-pressure (the 'drain' side is set up above).
// Plain data handlers: measurably faster than stream.pipe() under Bun
// (about 7% on a loopback download), and these sockets never change hands
// afterwards.
function relayBytes(from: net.Socket, to: net.Socket): void {
  from.on("data", (d: Buffer) => {
    if (!to.write(d)) from.pause();
  });
}
