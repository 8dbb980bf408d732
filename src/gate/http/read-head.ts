import type { Duplex } from "node:stream";
import type { SocketReader } from "../io.ts";
import { DEFAULT_HEAD_LIMITS, parseRequestHead, type RequestHead } from "./head.ts";

// Reads one request head off a client connection, with two timers: an idle
// connection (no byte of a next request) is closed after `idleTimeoutMs`;
// once the first byte arrived the whole head must follow within
// `headerTimeoutMs` (slowloris), else the answer is 408. Bytes past the head
// go back to the reader for the body.

const EMPTY = Buffer.alloc(0);
const MAX_HEAD = DEFAULT_HEAD_LIMITS.maxHeadBytes;

export type HeadRead =
  | { kind: "ok"; head: RequestHead }
  | { kind: "closed" }
  | { kind: "error"; status: number; reason: string };

export async function readRequestHead(
  sock: Duplex,
  reader: SocketReader,
  limits: { idleTimeoutMs: number; headerTimeoutMs: number },
): Promise<HeadRead> {
  // The head so far, in one buffer grown by doubling: a head that arrives
  // in many small reads must not cost a copy of itself per read.
  let store: Buffer = EMPTY;
  let len = 0;
  let timedOut = false;
  let timer = setTimeout(() => {
    timedOut = true;
    sock.destroy();
  }, limits.idleTimeoutMs);
  try {
    for (;;) {
      const c = await reader.read();
      if (!c) {
        if (timedOut && len > 0) {
          setTimeout(() => sock.destroy(), 1000).unref();
          return { kind: "error", status: 408, reason: "request header timeout" };
        }
        return { kind: "closed" };
      }
      if (len === 0) {
        clearTimeout(timer);
        timer = setTimeout(() => {
          // Slowloris: stop reading, answer 408 below, close.
          timedOut = true;
          reader.interrupt();
        }, limits.headerTimeoutMs);
      }
      let buf: Buffer;
      if (len === 0) {
        store = c;
        len = c.length;
        buf = c;
      } else {
        // The first read is the reader's own buffer: never written into.
        if (len + c.length > store.length) {
          const grown = Buffer.allocUnsafe(Math.max(len + c.length, Math.min(2 * store.length, MAX_HEAD + 16 * 1024)));
          store.copy(grown, 0, 0, len);
          store = grown;
        }
        c.copy(store, len);
        len += c.length;
        buf = store.subarray(0, len);
      }
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
