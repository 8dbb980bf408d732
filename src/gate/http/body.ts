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

// The decoded payload of a request body, chunk by chunk, read on demand
// from the client. Bytes past the end of the body (a pipelined next request)
// go back to the reader. A client that disconnects mid-body, or a malformed
// chunked body, ends the iteration with a BodyError.
export async function* requestBody(reader: SocketReader, framing: Framing): AsyncGenerator<Uint8Array> {
  if (framing.kind === "none") return;
  if (framing.kind === "length") {
    let left = framing.length;
    while (left > 0) {
      const c = await reader.read();
      if (!c) throw new BodyError("client closed before the end of the body");
      if (c.length > left) {
        reader.unshift(c.subarray(left));
        yield c.subarray(0, left);
        return;
      }
      left -= c.length;
      yield c;
    }
    return;
  }
  if (framing.kind === "chunked") {
    const dec = new ChunkedDecoder();
    for (;;) {
      const c = await reader.read();
      if (!c) throw new BodyError("client closed before the end of the chunked body");
      let r: { data: Uint8Array[]; end: number };
      try {
        r = dec.push(c);
      } catch (e) {
        throw new BodyError(e instanceof ChunkedError ? `malformed chunked body: ${e.message}` : String(e));
      }
      for (const d of r.data) if (d.length) yield d;
      if (r.end >= 0) {
        reader.unshift(c.subarray(r.end));
        return;
      }
    }
  }
  throw new BodyError("request body without length");
}
