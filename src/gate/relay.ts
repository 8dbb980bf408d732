import type { Duplex } from "node:stream";
import { relayBody, type BodyEnd, type BodyStep } from "./http/body-relay.ts";
import { LAST_CHUNK } from "./http/chunked.ts";
import { headerValue, headerValues, parseResponseHead, responseFraming, wantsClose } from "./http/head.ts";
import { sendBlocked } from "./http/respond.ts";
import { writeAll } from "./io.ts";
import type { Upstream } from "./pool.ts";
import type { ResponseGuard } from "./response-guard.ts";

// One response (after any 1xx) from the upstream to the client: the head
// parsed for its framing, the body walked to its end (http/body-relay.ts).
// Without a guard the bytes go out unchanged. With one (auth routes, see
// docs/design/gate.md) the head is checked for the credentials and the
// body goes through the guard (credential replaced by its same-length
// stand-in; a chunked body decoded and re-encoded, its trailers dropped).

export interface RelayCtl {
  // Set when the request was abandoned (DLP finding mid-body): the relay
  // must not answer the client itself.
  aborted: boolean;
  // Response bytes have gone to the client.
  headSent: boolean;
  done: boolean;
  // Request on a reused connection without a body: may be retried.
  retryable: boolean;
}

export interface RelayResult {
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

export const STALE = "stale kept-alive upstream connection";
// Interim (1xx) responses accepted before the final one: a few 103 Early
// Hints are real; an endless stream of them is an upstream keeping the
// request open and writing to the bottle unasked.
export const MAX_INTERIM = 8;
const CRLF = Buffer.from("\r\n", "latin1");

export async function relayResponse(
  sock: Duplex,
  u: Upstream,
  method: string,
  ctl: RelayCtl,
  guard: ResponseGuard | null,
  idleTimeoutMs: number,
): Promise<RelayResult> {
  let buf: Buffer = Buffer.alloc(0);
  let bytesIn = 0;
  let interim = 0;
  const idle = () => setTimeout(() => u.sock.destroy(), idleTimeoutMs);
  let timer = idle();
  const next = async (): Promise<Buffer | null> => {
    const n = await u.reader.read();
    clearTimeout(timer);
    timer = idle();
    return n;
  };
  // Every bad() comes before the final response's head went out (interim
  // ones may have): the client can still get a final 502.
  const bad = async (reason: string): Promise<RelayResult> => {
    if (!ctl.aborted) await sendBlocked(sock, 502, `gate: ${reason}`, true);
    return { status: 502, bytesIn, upstreamReusable: false, clientMayContinue: false, error: reason };
  };
  // The guard refuses a response: nothing more is read from this upstream
  // connection, and the client gets a 502 (or, when part of a response
  // already went out, a cut connection).
  const refuse = async (reason: string): Promise<RelayResult> => {
    u.sock.destroy();
    if (ctl.headSent) sock.destroy();
    else if (!ctl.aborted) await sendBlocked(sock, 502, `blocked: ${reason}`, true);
    return { status: 502, bytesIn, upstreamReusable: false, clientMayContinue: false, error: null, dlp: { decision: "deny", reason } };
  };
  try {
    for (;;) {
      const c = await next();
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
      const rest = buf.subarray(r.size);
      buf = Buffer.alloc(0);
      if (res.status === 101) return bad("protocol upgrades are not supported");
      if (guard) {
        const ref = guard.find(headBytes);
        if (ref !== null) return refuse(`upstream response contained the credential for ${ref}`);
      }
      if (res.status >= 100 && res.status < 200) {
        if (++interim > MAX_INTERIM) {
          u.sock.destroy();
          return bad("too many interim responses");
        }
        // Interim response (100 Continue, 103 Early Hints): relay and wait
        // for the final one. The gate already answered any Expect.
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
      let dlp: RelayResult["dlp"];
      let end: BodyEnd;
      if (guard && framing.kind !== "none") {
        // Only an identity body can be scanned exactly (we asked for one).
        const codings = [...headerValues(res.headers, "content-encoding"), ...headerValues(res.headers, "transfer-encoding")]
          .join(",")
          .split(",")
          .map((c) => c.trim().toLowerCase())
          .filter((c) => c !== "" && c !== "identity" && c !== "chunked");
        if (codings.length > 0) return refuse("compressed response on a credential route");
        ctl.headSent = true;
        const g = guardedSink(sock, headBytes, rest.length > 0, guard, framing.kind === "chunked", headerValue(res.headers, "content-type") ?? null);
        bytesIn += headBytes.length;
        if (!g.headPending) await g.flushHead();
        try {
          end = await relayBody(framing, rest, next, g.emit);
        } catch (e) {
          if (!(e instanceof GuardCut)) throw e;
          // A credential completed over bytes already forwarded: what
          // completes it never goes out, and neither does anything after.
          u.sock.destroy();
          sock.destroy();
          return { status: res.status, bytesIn, upstreamReusable: false, clientMayContinue: false, error: null, dlp: { decision: "deny", reason: `upstream response contained the credential for ${e.ref}, response cut` } };
        }
        dlp = g.replaced();
      } else {
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
        end = await relayBody(
          framing,
          rest,
          next,
          async (s) => {
            if (s.raw.length) await writeAll(sock, s.raw);
          },
          { payload: false },
        );
      }
      bytesIn += end.wireBytes;
      const result = (upstreamReusable: boolean, clientMayContinue: boolean, error: string | null): RelayResult => ({
        status: res.status,
        bytesIn,
        upstreamReusable,
        clientMayContinue,
        error,
        ...(dlp ? { dlp } : {}),
      });
      switch (end.kind) {
        case "complete":
          return result(!upstreamClose && end.extra === 0, true, null);
        case "closed":
          // The client learns where the body ended by the close: its
          // connection must close too.
          return result(false, false, null);
        case "truncated":
          sock.destroy();
          return result(false, false, "upstream closed mid-body");
        case "malformed":
          sock.destroy();
          return result(false, false, end.reason);
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

// The guarded path's writer: every payload piece goes through the guard;
// the head leaves with the first body bytes (one write for the usual small
// response), or alone at once when none came with it (an SSE stream's
// client is waiting for it).
class GuardCut extends Error {
  constructor(readonly ref: string) {
    super(`credential ${ref} in response`);
  }
}

function guardedSink(sock: Duplex, headBytes: Uint8Array, bodyFollows: boolean, guard: ResponseGuard, chunked: boolean, contentType: string | null) {
  const gs = guard.stream(contentType);
  const replaced = new Set<string>();
  let head: Uint8Array | null = headBytes;
  const send = async (parts: Uint8Array[]) => {
    if (head) parts.unshift(head);
    head = null;
    const live = parts.filter((p) => p.length > 0);
    if (live.length === 1) await writeAll(sock, live[0]!);
    else if (live.length > 1) await writeAll(sock, Buffer.concat(live));
  };
  const emit = async (s: BodyStep): Promise<void> => {
    const outs: Uint8Array[] = [];
    let cut: string | null = null;
    for (const p of s.payload) {
      const r = gs.push(p);
      for (const ref of r.replaced) replaced.add(ref);
      outs.push(r.out);
      if (r.cut !== undefined) {
        cut = r.cut;
        break;
      }
    }
    const last = s.last && cut === null;
    if (last) outs.push(gs.end());
    const size = outs.reduce((n, o) => n + o.length, 0);
    if (!chunked) await send(outs);
    else {
      const parts = size > 0 ? [Buffer.from(size.toString(16) + "\r\n", "latin1"), ...outs, CRLF] : [];
      if (last) parts.push(LAST_CHUNK);
      await send(parts);
    }
    if (cut !== null) throw new GuardCut(cut);
  };
  return {
    headPending: bodyFollows,
    flushHead: () => send([]),
    emit,
    replaced: (): RelayResult["dlp"] =>
      replaced.size > 0 ? { decision: "allow", reason: `credential ${[...replaced].join(", ")} in response replaced by placeholder` } : undefined,
  };
}
