import type { Duplex } from "node:stream";
import type { EgressRoute } from "../manifest/schema.ts";
import { auditPath } from "./audit.ts";
import type { ConnState, GateContext, Generation } from "./context.ts";
import { injectCredential, withoutHeader } from "./credentials.ts";
import { sendPlainBody, sendScannedBody, type BodySend } from "./forward-body.ts";
import { BodyError } from "./http/body.ts";
import { endToEndHeaders, serializeHeaders, type Framing, type HeaderList, type RequestHead } from "./http/head.ts";
import { answerExpect, Deny } from "./http/respond.ts";
import { SocketReader, writeAll } from "./io.ts";
import { isReceivePack, RECEIVE_PACK_REFUSAL } from "./gitpush/receive-pack.ts";
import { decide, hostGetsCredential, policyPart } from "./policy/decide.ts";
import { privateAllowance } from "./policy/private.ts";
import { poolKey, type Upstream } from "./pool.ts";
import { redactHost } from "./redact.ts";
import { relayResponse, STALE, type RelayCtl, type RelayResult } from "./relay.ts";
import type { ResponseGuard } from "./response-guard.ts";
import type { Target } from "./target.ts";
import { dial, resolveUpstream } from "./upstream.ts";

// One request to an upstream: the policy decision on host, port, method and
// path; DLP on the URL and headers; the credential injected on `auth`
// routes; an upstream connection taken from this client connection, the
// pool or a new dial (addresses SSRF-checked); the body sent (scanned first
// on DLP routes, forward-body.ts); the response relayed (relay.ts); one
// audit line. Refusals are thrown as Deny for the dispatch to answer.

class UpstreamError extends Error {}

export async function forward(
  ctx: GateContext,
  sock: Duplex,
  reader: SocketReader,
  head: RequestHead,
  framing: Framing,
  t: Target,
  state: ConnState,
  clientWantsClose: boolean,
  fresh = false,
): Promise<boolean> {
  const g = ctx.gen;
  const method = head.method;
  const route = admit(g, head, t);
  const { headers, guard } = upstreamHeaders(ctx, g, route, t, head.headers);
  const key = poolKey(t, route);
  let up = state.upstream && state.upstream.key === key && !state.upstream.sock.destroyed ? state.upstream : null;
  if (!up && state.upstream) {
    if (state.clean) ctx.pool.park(state.upstream);
    else state.upstream.sock.destroy();
    state.upstream = null;
  }
  if (!up && !fresh) {
    up = ctx.pool.take(key);
    if (up) state.upstream = up;
  }
  // A kept-alive connection may have been closed by the server just as
  // we reuse it: a bodiless request is then retried once on a new one.
  const reused = up !== null;
  state.clean = false;
  // Resolves (SSRF-checked) now and starts the dial; returns the dial boxed,
  // so awaiting this does not wait for the connection.
  const dialFresh = async (): Promise<{ p: Promise<Upstream> }> => {
    const res = await resolveUpstream(t.host, t.isIp, t.port, privateAllowance(route), ctx.resolver);
    if (!res.ok) throw res.unresolvable ? new Deny(502, `gate: ${res.reason}`, "gate") : new Deny(403, res.reason, "ssrf");
    ctx.dials++;
    const p = dial({
      address: res.address,
      port: t.port,
      tlsHost: t.scheme === "https" ? t.host : null,
      tlsHostIsIp: t.isIp,
      timeoutMs: ctx.limits.upstreamConnectTimeoutMs,
      ca: ctx.upstreamCa,
    }).then((s) => {
      const ch = { kind: "upstream", host: t.host, port: t.port, scheme: t.scheme, address: res.address, close: () => s.destroy() } as const;
      if (!ctx.channels.add(ch, s, ctx.gen.policy, ctx.record)) throw new Error(`${t.host} was revoked by a policy reload`);
      return { key, sock: s, reader: new SocketReader(s) };
    });
    // Rejection is handled where it is awaited; avoid an unhandled one if
    // DLP refuses the body first.
    p.catch(() => {});
    return { p };
  };
  let dialing: Promise<Upstream> | null = up ? null : (await dialFresh()).p;
  await answerExpect(sock, head, framing);
  const requestLine = `${method} ${t.pathAndQuery} ${head.version}\r\n`;
  const baseHead = requestLine + `host: ${t.authority}\r\n` + serializeHeaders(headers);

  // The connection the request head goes out on, called right before it
  // does. A response is only ever the answer to a request the bottle sent
  // on that connection: one that already holds bytes (a second response
  // after the last one, a greeting on a fresh connection while the body was
  // being scanned) is dropped with them, and the request goes on a new one.
  const getUp = async (): Promise<Upstream> => {
    for (let attempt = 0; ; attempt++) {
      if (!up) {
        try {
          up = await dialing!;
        } catch (e) {
          throw new UpstreamError(`cannot connect to ${t.host}:${t.port}: ${(e as Error).message}`);
        }
        state.upstream = up;
      }
      if (up.reader.idle) return up;
      if (!up.reader.eof) ctx.log.info(`upstream ${t.host}:${t.port} sent bytes nobody asked for; connection dropped`);
      up.sock.destroy();
      up = null;
      state.upstream = null;
      ctl.retryable = false;
      if (attempt > 0) throw new UpstreamError(`upstream ${t.host}:${t.port} spoke before the request`);
      dialing = (await dialFresh()).p;
    }
  };

  // The response is read as soon as the request head is upstream, while
  // the body is still being sent: a server may answer early (401, 413)
  // without reading the body, and waiting for the body to drain first
  // would deadlock both directions.
  const ctl: RelayCtl = { aborted: false, headSent: false, done: false, retryable: reused && framing.kind === "none" };
  // Assigned from a callback: TypeScript cannot follow that, hence the box.
  const resp: { p: Promise<RelayResult> | null } = { p: null };
  const headSent = (u: Upstream) => {
    resp.p = relayResponse(sock, u, method, ctl, guard, ctx.limits.upstreamIdleTimeoutMs);
    resp.p.then(
      () => (ctl.done = true),
      () => (ctl.done = true),
    );
  };
  const send: BodySend = { reader, framing, head, baseHead, getUp, headSent, ctl, sent: 0 };
  let sendError: unknown = null;
  try {
    if (framing.kind === "none") {
      const u = await getUp();
      await writeAll(u.sock, baseHead + "\r\n");
      headSent(u);
    } else {
      const dlp = route.dlp === "on" ? g.dlp : g.placeholderScan(route);
      // git_push: scan is only valid with dlp: on (schema.ts).
      if (dlp) await sendScannedBody(ctx, dlp, send, route.git_push === "scan" && isReceivePack(t.pathAndQuery, head.headers));
      else await sendPlainBody(ctx, send);
    }
  } catch (e) {
    sendError = e;
  }
  const bytesOut = send.sent;

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
      ctx.record({ method, host: t.host, port: t.port, path: auditPath(t.pathAndQuery), decision: r.dlp?.decision ?? "allow", reason: r.dlp?.reason ?? "response before end of request body", layer: r.dlp ? "dlp" : "policy", status: r.status, bytes_out: bytesOut, bytes_in: r.bytesIn });
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
      ctx.record({ method, host: t.host, port: t.port, path: deny.layer === "dlp" ? null : auditPath(t.pathAndQuery), decision: "deny", reason: deny.reason, layer: deny.layer, status: null, bytes_out: bytesOut });
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
    return forward(ctx, sock, reader, head, framing, t, state, clientWantsClose, true);
  }
  ctx.record({
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

// The policy decision and the DLP scans. The host is scanned on every
// route (the bottle chose it and it leaves as a DNS lookup; the labels the
// route fixed are not entropy-checked); the URL and headers on DLP routes.
// A denied URL may still carry a secret, and the reason can quote the
// path: DLP findings win so that neither reaches the audit file. (The
// method was scanned before dispatch, server.ts.)
function admit(g: Generation, head: RequestHead, t: Target): EgressRoute {
  const d = decide({ host: t.host, port: t.port, method: head.method, path: t.pathAndQuery, scheme: t.scheme }, g.policy);
  const hf = g.dlp.scanHost(t.host, d.allow ? policyPart(d.route) : null);
  if (hf) throw new Deny(403, `dlp: ${hf.rule} in host`, "dlp", redactHost(g.dlp, t.host));
  if (!d.allow) {
    const f = g.dlp.scanPath(t.pathAndQuery);
    if (f) throw new Deny(403, `dlp: ${f.rule} in ${f.where}`, "dlp");
    throw new Deny(403, d.reason, "policy");
  }
  const route = d.route;
  // DLP on: everything. DLP off: still every placeholder the route does not
  // inject itself, so a placeholder never leaves through any route.
  const dlp = route.dlp === "on" ? g.dlp : g.placeholderScan(route);
  if (dlp) {
    const f = dlp.scanPath(t.pathAndQuery);
    if (f) throw new Deny(403, `dlp: ${f.rule} in ${f.where}`, "dlp");
    const visible = route.auth ? withoutHeader(head.headers, route.auth.header) : head.headers;
    const hf = dlp.scanHeaders(visible);
    if (hf) throw new Deny(403, `dlp: ${hf.rule} in ${hf.where}`, "dlp");
  }
  // A git push goes through the git gate, unless this route opted in to
  // having the packfile scanned here (gitpush/receive-pack.ts).
  if (isReceivePack(t.pathAndQuery, head.headers) && route.git_push !== "scan") throw new Deny(403, RECEIVE_PACK_REFUSAL, "policy");
  return route;
}

// The headers sent upstream: end-to-end ones only, plus on `auth` routes
// the real credential (only over https: decide() already refuses plain http
// on a credential route, this is the second lock on the same door). The
// response is guarded (and asked for uncompressed so that the guard's scan
// is exact; docs/design/gate.md) on every route of a host that gets a
// credential, not only on the route that injects it.
function upstreamHeaders(
  ctx: GateContext,
  g: Generation,
  route: EgressRoute,
  t: Target,
  from: HeaderList,
): { headers: HeaderList; guard: ResponseGuard | null } {
  let headers = endToEndHeaders(from);
  if (route.auth) {
    if (t.scheme !== "https") throw new Deny(403, `plain http to ${t.host}: its credential is only sent over https`, "policy");
    const real = ctx.secrets.credentials[route.auth.token_ref];
    if (real === undefined) throw new Deny(403, `credential ${route.auth.token_ref} was not given to the gate`, "gate");
    headers = injectCredential(headers, route.auth, real);
  } else if (!hostGetsCredential(t.host, g.policy)) {
    return { headers, guard: null };
  }
  const guard = g.guard;
  if (guard) headers = [...withoutHeader(headers, "accept-encoding"), ["accept-encoding", "identity"]];
  return { headers, guard };
}
