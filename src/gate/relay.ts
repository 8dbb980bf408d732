import type { Duplex } from "node:stream";
import { ChunkedDecoder, ChunkedError, LAST_CHUNK } from "./http/chunked.ts";
import { headerValues, parseResponseHead, responseFraming, wantsClose, type Framing } from "./http/head.ts";
import { sendBlocked } from "./http/respond.ts";
import { writeAll } from "./io.ts";
import type { Upstream } from "./pool.ts";
import type { ResponseGuard } from "./response-guard.ts";

// One response (after any 1xx) from the upstream to the client: the head
// parsed for its framing, the body relayed to its end. Without a guard the
// bytes go out unchanged. With one (auth routes, see docs/design/gate.md)
// the head is checked for the credentials and the body goes through the
// guard.

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
const CRLF = Buffer.from("\r\n", "latin1");

// Relays one response (after any 1xx) from the upstream to the client,
// raw bytes, finding its end from its framing. With a guard (auth
// routes) the head is checked and the body goes through the guard.
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
  const idle = () => setTimeout(() => u.sock.destroy(), idleTimeoutMs);
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
