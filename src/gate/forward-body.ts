import type { GateContext } from "./context.ts";
import type { Dlp } from "./dlp/index.ts";
import { requestBody, type BodyRead } from "./http/body.ts";
import { pushRefusalAnswer, scanReceivePack, type PushCommands } from "./gitpush/receive-pack.ts";
import { HeldBody } from "./held-body.ts";
import { encodeChunk, LAST_CHUNK } from "./http/chunked.ts";
import { headerValues, type Framing, type RequestHead } from "./http/head.ts";
import { Deny } from "./http/respond.ts";
import { writeAll, type SocketReader } from "./io.ts";
import type { Upstream } from "./pool.ts";
import type { RelayCtl } from "./relay.ts";

// Sending a request body upstream, in one of two modes: as it arrives
// (routes without DLP), or scanned first (DLP routes: the windowed send,
// docs/design/gate.md). Both put the request head upstream themselves and
// call `headSent` then, which starts reading the response.

export interface BodySend {
  reader: SocketReader;
  framing: Framing;
  head: RequestHead;
  // Request line and headers, without framing fields and the final CRLF.
  baseHead: string;
  getUp: () => Promise<Upstream>;
  headSent: (u: Upstream) => void;
  ctl: RelayCtl;
  // Body bytes sent so far (audit bytes_out).
  sent: number;
}

// The upstream answered before the body was sent: the rest is not sent.
export class EarlyResponse extends Error {}

const framingHeader = (f: Framing): string =>
  f.kind === "chunked" ? "transfer-encoding: chunked\r\n" : `content-length: ${(f as { length: number }).length}\r\n`;

async function sendPiece(u: Upstream, chunked: boolean, data: Uint8Array): Promise<void> {
  if (chunked) for (const p of encodeChunk(data)) await writeAll(u.sock, p);
  else await writeAll(u.sock, data);
}

// Every Content-Encoding field, in order: a second field is a second layer
// (RFC 9110 lists are the same whether folded into one field or repeated),
// and a scanner that undid only the first would scan encoded bytes.
function contentEncoding(head: RequestHead): string | null {
  const v = headerValues(head.headers, "content-encoding");
  return v.length === 0 ? null : v.join(", ");
}

// A route without DLP: the body streams upstream as it arrives.
export async function sendPlainBody(ctx: GateContext, s: BodySend): Promise<void> {
  const u = await s.getUp();
  const chunked = s.framing.kind === "chunked";
  await writeAll(u.sock, s.baseHead + framingHeader(s.framing) + "\r\n");
  s.headSent(u);
  for await (const c of requestBody(s.reader, s.framing, { idleMs: ctx.limits.bodyTimeoutMs })) {
    s.sent += c.length;
    if (s.ctl.done) throw new EarlyResponse();
    await sendPiece(u, chunked, c);
  }
  if (chunked) await writeAll(u.sock, LAST_CHUNK);
}

// DLP routes: hold up to the window, scanning as the body arrives; the
// upstream sees the head only once the whole body (or the window) has
// scanned clean. Past the window (counted in wire bytes, framing included),
// or when all requests together hold the memory budget, stream all but a
// hold-back tail.
// `gitPush`: a git push on a route that opted in: the whole body is held
// (never streamed), and its packfile read and scanned before anything goes
// upstream (gitpush/receive-pack.ts).
export async function sendScannedBody(ctx: GateContext, dlp: Dlp, s: BodySend, gitPush = false): Promise<void> {
  const { limits } = ctx;
  const scanner = dlp.encodedBodyScanner(contentEncoding(s.head), headerValues(s.head.headers, "content-type"));
  const held = new HeldBody(s.framing.kind === "length" ? s.framing.length : null);
  const read: BodyRead = { idleMs: limits.bodyTimeoutMs, wire: 0 };
  // What this body has added to ctx.dlpHeld, given back when it is done.
  let charged = 0;
  let total = 0;
  let streaming: Upstream | null = null;
  const chunked = s.framing.kind === "chunked";
  try {
    for await (const c of requestBody(s.reader, s.framing, read)) {
      total += c.length;
      const f = await scanner.push(c);
      if (f) throw new Deny(403, `dlp: ${f.rule} in ${f.where}`, "dlp");
      const added = held.push(c);
      charged += added;
      ctx.dlpHeld += added;
      if (gitPush) {
        if (read.wire! > limits.gitPushMaxBytes) {
          throw new Deny(413, `gate: a git push over ${limits.gitPushMaxBytes >> 20} MiB cannot be scanned on an egress route; push through the git gate (git.bottle.internal)`, "gate");
        }
        if (ctx.dlpHeld > limits.dlpMemoryBudgetBytes) throw new Deny(503, "gate: too many bodies held for scanning right now; push again", "gate");
      } else if (!streaming && (read.wire! > limits.dlpWindowBytes || ctx.dlpHeld > limits.dlpMemoryBudgetBytes)) {
        streaming = await s.getUp();
        await writeAll(streaming.sock, s.baseHead + framingHeader(s.framing) + "\r\n");
        s.headSent(streaming);
      }
      if (s.ctl.done) throw new EarlyResponse();
      if (streaming) {
        // Forward all but the hold-back tail.
        const { pieces, freed } = held.takeFront(limits.dlpHoldbackBytes);
        charged -= freed;
        ctx.dlpHeld -= freed;
        for (const d of pieces) await sendPiece(streaming, chunked, d);
      }
    }
  } catch (e) {
    ctx.dlpHeld -= charged;
    scanner.close();
    throw e;
  }
  try {
    const f = await scanner.end();
    if (f) throw new Deny(403, `dlp: ${f.rule} in ${f.where}`, "dlp");
    const length = held.bytes;
    const rest = held.drain();
    if (gitPush) {
      const scanners = { plain: () => dlp.bodyScanner(), blob: () => dlp.encodedBodyScanner(null) };
      const commands: PushCommands = { refs: [], sideband: false };
      const r = await scanReceivePack(Buffer.concat(rest), contentEncoding(s.head), scanners, { maxInflated: limits.gitPushMaxInflated }, commands);
      if (!r.ok) {
        const reason = `dlp: ${r.rule} in ${r.where}`;
        throw new Deny(403, reason, "dlp", undefined, pushRefusalAnswer(commands, `blocked by the gate's secret scan: ${reason}; nothing was sent upstream`));
      }
    }
    const u = streaming ?? (await s.getUp());
    if (!streaming) {
      await writeAll(u.sock, s.baseHead + `content-length: ${length}\r\n\r\n`);
      s.headSent(u);
      for (const d of rest) await writeAll(u.sock, d);
    } else {
      for (const d of rest) await sendPiece(u, chunked, d);
      if (chunked) await writeAll(u.sock, LAST_CHUNK);
    }
    s.sent = total;
  } finally {
    ctx.dlpHeld -= charged;
  }
}
