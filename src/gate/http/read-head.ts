import type { Duplex } from "node:stream";
import type { SocketReader } from "../io.ts";
import { parseRequestHead, type RequestHead } from "./head.ts";

// Reads one request head off a client connection, with two timers: an idle
// connection (no byte of a next request) is closed after `idleTimeoutMs`;
// once the first byte arrived the whole head must follow within
// `headerTimeoutMs` (slowloris), else the answer is 408. Bytes past the head
// go back to the reader for the body.

export type HeadRead =
  | { kind: "ok"; head: RequestHead }
  | { kind: "closed" }
  | { kind: "error"; status: number; reason: string };

export async function readRequestHead(
  sock: Duplex,
  reader: SocketReader,
  limits: { idleTimeoutMs: number; headerTimeoutMs: number },
): Promise<HeadRead> {
  let buf: Buffer = Buffer.alloc(0);
  let timedOut = false;
  let timer = setTimeout(() => {
    timedOut = true;
    sock.destroy();
  }, limits.idleTimeoutMs);
  try {
    for (;;) {
      const c = await reader.read();
      if (!c) {
        if (timedOut && buf.length > 0) {
          setTimeout(() => sock.destroy(), 1000).unref();
          return { kind: "error", status: 408, reason: "request header timeout" };
        }
        return { kind: "closed" };
      }
      if (buf.length === 0) {
        clearTimeout(timer);
        timer = setTimeout(() => {
          // Slowloris: stop reading, answer 408 below, close.
          timedOut = true;
          reader.interrupt();
        }, limits.headerTimeoutMs);
      }
      buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
      const r = parseRequestHead(buf);
      if (r.kind === "incomplete") continue;
      if (r.kind === "error") return r;
      reader.unshift(buf.subarray(r.size));
      return { kind: "ok", head: r.head };
    }
  } finally {
    clearTimeout(timer);
  }
}
