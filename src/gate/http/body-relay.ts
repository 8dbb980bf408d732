import { ChunkedDecoder, ChunkedError } from "./chunked.ts";
import type { Framing } from "./head.ts";

// The one loop that walks a message body to its end, by its framing:
// Content-Length, chunked, or delimited by the peer closing. No sockets:
// bytes come from `next()` (null at end of stream) after the `first` ones
// already read past the head, and each step goes to `emit` (awaited, so a
// slow client slows the reading). The response relay (relay.ts) uses it
// twice: the plain path forwards `raw` as it is, the guarded path passes
// the `payload` through the response guard and re-chunks it.

export interface BodyStep {
  // The body's bytes on the wire in this step (chunk framing included).
  raw: Uint8Array;
  // What they carry: the decoded payload (for length and close framing,
  // `raw` itself).
  payload: Uint8Array[];
  // The last step of a body that ended properly (for close framing, the
  // step at end of stream, with nothing in it).
  last: boolean;
}

export type BodyEnd =
  // The body ended where its framing says; `extra` bytes were read past it
  // (anything there was not asked for: the connection cannot be reused).
  | { kind: "complete"; wireBytes: number; extra: number }
  // Close-delimited body, ended by the peer closing.
  | { kind: "closed"; wireBytes: number }
  // End of stream before the framing's end.
  | { kind: "truncated"; wireBytes: number }
  | { kind: "malformed"; wireBytes: number; reason: string };

// `payload: false`: the caller forwards `raw` only, and a chunked body's
// payload is not extracted (`payload` is then empty for it).
export async function relayBody(
  framing: Framing,
  first: Uint8Array,
  next: () => Promise<Uint8Array | null>,
  emit: (step: BodyStep) => Promise<void> | void,
  opts: { payload: boolean } = { payload: true },
): Promise<BodyEnd> {
  let rest = first;
  let wireBytes = 0;
  if (framing.kind === "none") return { kind: "complete", wireBytes, extra: rest.length };
  if (framing.kind === "length") {
    let left = framing.length;
    for (;;) {
      if (rest.length) {
        const take = Math.min(left, rest.length);
        const raw = rest.subarray(0, take);
        left -= take;
        wireBytes += take;
        await emit({ raw, payload: [raw], last: left === 0 });
        if (left === 0) return { kind: "complete", wireBytes, extra: rest.length - take };
      }
      const n = await next();
      if (!n) return { kind: "truncated", wireBytes };
      rest = n;
    }
  }
  if (framing.kind === "chunked") {
    const dec = new ChunkedDecoder(opts.payload);
    for (;;) {
      if (rest.length) {
        let r: { data: Uint8Array[]; end: number };
        try {
          r = dec.push(rest);
        } catch (e) {
          return { kind: "malformed", wireBytes, reason: `bad chunked response: ${(e as ChunkedError).message}` };
        }
        const raw = r.end >= 0 ? rest.subarray(0, r.end) : rest;
        wireBytes += raw.length;
        await emit({ raw, payload: r.data, last: r.end >= 0 });
        if (r.end >= 0) return { kind: "complete", wireBytes, extra: rest.length - r.end };
      }
      const n = await next();
      if (!n) return { kind: "truncated", wireBytes };
      rest = n;
    }
  }
  // Delimited by close: everything up to the end of stream.
  for (;;) {
    if (rest.length) {
      wireBytes += rest.length;
      await emit({ raw: rest, payload: [rest], last: false });
    }
    const n = await next();
    if (!n) {
      await emit({ raw: EMPTY, payload: [], last: true });
      return { kind: "closed", wireBytes };
    }
    rest = n;
  }
}

const EMPTY = new Uint8Array(0);
