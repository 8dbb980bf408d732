import type { SocketReader } from "../io.ts";
import { ChunkedDecoder, ChunkedError } from "./chunked.ts";
import type { Framing } from "./head.ts";

export class BodyError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface BodyRead {
  // A client that sends no byte of the body for this long, while the gate
  // waits for one, gets a 408 (a stalled body, like a stalled head).
  idleMs: number;
  // Bytes taken off the wire for this body so far, framing included (chunk
  // sizes, extensions, CRLFs, trailers): what the DLP window counts.
  wire?: number;
}

// The decoded payload of a request body, read on demand from the client:
// one piece per read from the socket, however many chunks that read held (a
// body of one-byte chunks must not become one object per byte downstream).
// Bytes past the end of the body (a pipelined next request) go back to the
// reader. A client that disconnects mid-body, stalls, or sends a malformed
// chunked body ends the iteration with a BodyError.
export async function* requestBody(reader: SocketReader, framing: Framing, opts: BodyRead): AsyncGenerator<Uint8Array> {
  if (framing.kind === "none") return;
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expire = () => {
    timedOut = true;
    reader.interrupt();
  };
  // The timer runs only while the gate waits for the client; time spent
  // waiting for the upstream to take what was read is not the client's.
  const read = async (): Promise<Buffer> => {
    timer = setTimeout(expire, opts.idleMs);
    const c = await reader.read();
    clearTimeout(timer);
    if (timedOut) throw new BodyError("request body timeout", 408);
    if (!c) throw new BodyError(`client closed before the end of the ${framing.kind === "chunked" ? "chunked " : ""}body`);
    return c;
  };
  try {
    if (framing.kind === "length") {
      let left = framing.length;
      while (left > 0) {
        const c = await read();
        if (c.length > left) {
          reader.unshift(c.subarray(left));
          opts.wire = (opts.wire ?? 0) + left;
          yield c.subarray(0, left);
          return;
        }
        left -= c.length;
        opts.wire = (opts.wire ?? 0) + c.length;
        yield c;
      }
      return;
    }
    if (framing.kind === "chunked") {
      const dec = new ChunkedDecoder();
      for (;;) {
        const c = await read();
        let r: { data: Uint8Array[]; end: number };
        try {
          r = dec.push(c);
        } catch (e) {
          throw new BodyError(e instanceof ChunkedError ? `malformed chunked body: ${e.message}` : String(e));
        }
        opts.wire = (opts.wire ?? 0) + (r.end >= 0 ? r.end : c.length);
        const data = r.data[0];
        if (data && data.length) yield data;
        if (r.end >= 0) {
          reader.unshift(c.subarray(r.end));
          return;
        }
      }
    }
    throw new BodyError("request body without length");
  } finally {
    clearTimeout(timer);
  }
}
