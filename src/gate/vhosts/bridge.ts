import type { Duplex } from "node:stream";
import { auditPath } from "../audit.ts";
import type { GateContext } from "../context.ts";
import { requestBody } from "../http/body.ts";
import { encodeChunk, LAST_CHUNK } from "../http/chunked.ts";
import { endToEndHeaders, HOP_BY_HOP, type Framing, type RequestHead } from "../http/head.ts";
import { answerExpect, Deny, STATUS_TEXT } from "../http/respond.ts";
import { writeAll, type SocketReader } from "../io.ts";
import type { Target } from "../target.ts";
import type { AuditRecord } from "../types.ts";

// The bridge between the gate's raw HTTP/1.1 and a virtual host's
// fetch-style handler: the request (its body streamed, pulled as the
// handler reads it) becomes a Request, the handler's Response is written
// back chunked. One audit line, under the layer the vhost registered with:
// an allow, or a deny when the vhost refused (4xx/5xx).

export async function serveVhost(
  ctx: GateContext,
  sock: Duplex,
  reader: SocketReader,
  head: RequestHead,
  framing: Framing,
  t: Target,
  clientWantsClose: boolean,
): Promise<boolean> {
  const vhost = ctx.gen.vhosts.get(t.host);
  if (!vhost) throw new Deny(403, "unknown internal host", "policy");
  await answerExpect(sock, head, framing);
  const url = `${t.scheme}://${t.host}${t.port === (t.scheme === "https" ? 443 : 80) ? "" : ":" + t.port}${t.pathAndQuery === "*" ? "/" : t.pathAndQuery}`;
  const h = new Headers();
  for (const [k, v] of endToEndHeaders(head.headers)) h.append(k, v);
  h.set("host", t.authority);
  let consumed = framing.kind === "none";
  let bodyBytes = 0;
  let body: ReadableStream<Uint8Array> | null = null;
  if (framing.kind !== "none") {
    const it = requestBody(reader, framing, { idleMs: ctx.limits.bodyTimeoutMs });
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
  }
  let res: Response;
  try {
    res = await vhost.handle(new Request(url, { method: head.method, headers: h, body, duplex: "half" } as RequestInit));
  } catch (e) {
    ctx.log.error(`vhost ${t.host}: ${(e as Error).message}`);
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
    const rd = res.body.getReader();
    // A client may leave while a long response streams (an MCP client that
    // stops waiting for the operator): that is the client's choice, not a
    // gate failure. Cancelling the body tells the handler (the supervise
    // vhost records that the agent is gone); the line says what happened.
    const gone = () => void rd.cancel().catch(() => {});
    sock.once("close", gone);
    try {
      await writeAll(sock, out);
      for (;;) {
        const n = await rd.read();
        if (n.done) break;
        bytesIn += n.value.length;
        for (const p of encodeChunk(n.value)) await writeAll(sock, p);
      }
      if (sock.destroyed) throw new Error("socket closed");
      await writeAll(sock, LAST_CHUNK);
    } catch {
      gone();
      ctx.log.info(`vhost ${t.host}: the client closed the connection before the response ended`);
      record(ctx, head, t, vhost.layer, res.status, bodyBytes, bytesIn, "the client closed the connection before the response ended");
      return false;
    } finally {
      sock.off("close", gone);
    }
  }
  // A vhost's refusal (its own `403 blocked:`, a 404 for an upstream the
  // bottle does not have, a failure) is a deny like the gate's own. Its
  // body is not quoted: it may echo what the bottle sent.
  record(ctx, head, t, vhost.layer, res.status, bodyBytes, bytesIn, null);
  return !close;
}

function record(ctx: GateContext, head: RequestHead, t: Target, layer: AuditRecord["layer"], status: number, bytesOut: number, bytesIn: number, note: string | null): void {
  const refused = status >= 400;
  ctx.record({
    method: head.method,
    host: t.host,
    port: t.port,
    path: auditPath(t.pathAndQuery),
    decision: refused ? "deny" : "allow",
    reason: refused ? `${t.host} answered ${status}` : note,
    layer,
    status,
    bytes_out: bytesOut,
    bytes_in: bytesIn,
  });
}
