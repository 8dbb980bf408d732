import type { Duplex } from "node:stream";
import { noteRead } from "./memory.ts";

// Pull-mode reading over a socket: the connection handler asks for the next
// chunk when it is ready for it, and the socket is paused while more than a
// small amount is buffered. Back-pressure is therefore explicit and the
// handler never sees data it did not ask for (no `pipe()` on sockets that
// later change hands, which is where Bun's relays lost bytes).
//
// What the readers hold is bounded for the whole process, not only per
// connection. A reader buffers while its handler is busy elsewhere (a
// request waiting for its upstream, a body waiting for the upstream to take
// it): up to HIGH_WATER, plus the one read that crossed it, and Bun reads
// up to 512 KiB at once. That was ~768 KiB per connection, ~768 MiB for
// 1024 of them. So every reader's queue is counted in one ledger, and past
// its budget (GateLimits.readBufferBudgetBytes) reading becomes strict
// pull: a socket reads only while its handler waits for data with nothing
// queued, and pauses again as soon as a chunk arrives. A handler that waits
// always gets its data (nothing can starve a clean request), and what it
// gets is taken at once into what the gate bounds by other means (the head
// limit, the DLP budget) or written on.
//
// Not ours to count: Bun's net.Socket takes one more read into its stream
// buffer once paused (measured on 1.4.4: even a socket paused before any
// data came, even with its native handle paused), up to 512 KiB over TCP
// and the sender's socket buffer over a unix socket. That read per paused
// connection is the floor this budget cannot lower.

const HIGH_WATER = 256 * 1024;

class Ledger {
  held = 0;
  budget = 16 * 1024 * 1024;
  // Readers that may still receive data (not closed, not detached): the
  // ones to pause when the budget is crossed.
  readonly live = new Set<SocketReader>();
  // A reader dropped with bytes still queued (a handler that gave up on
  // its connection) gives its count back when it is collected: until then
  // the bytes are really held.
  readonly dropped = new FinalizationRegistry<{ n: number }>((cell) => {
    this.held -= cell.n;
  });

  get over(): boolean {
    return this.held > this.budget;
  }

  add(cell: { n: number }, n: number): void {
    const was = this.over;
    cell.n += n;
    this.held += n;
    if (!was && this.over) for (const r of this.live) r.squeeze();
  }
}

const ledger = new Ledger();

// The process-wide budget for bytes queued in readers (startGate sets it
// from its limits; one gate per process outside tests).
export function setReaderBudget(bytes: number): void {
  ledger.budget = bytes;
}

// Bytes queued in all readers now (tests).
export function readerBytesHeld(): number {
  return ledger.held;
}

export class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  // This reader's part of the ledger (shared with the finalizer).
  private readonly count = { n: 0 };
  private ended = false;
  private failed: Error | null = null;
  private wake: (() => void) | null = null;
  private detached = false;

  constructor(readonly socket: Duplex) {
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("close", this.onClose);
    socket.on("error", this.onError);
    ledger.live.add(this);
    ledger.dropped.register(this, this.count, this);
  }

  private take(n: number): void {
    this.buffered += n;
    ledger.add(this.count, n);
  }

  private onData = (d: Buffer) => {
    noteRead(d.length);
    this.chunks.push(d);
    this.take(d.length);
    if (this.buffered > HIGH_WATER || ledger.over) this.socket.pause();
    this.notify();
  };
  private onEnd = () => {
    this.ended = true;
    this.notify();
  };
  private onClose = () => {
    ledger.live.delete(this);
    this.onEnd();
  };
  private onError = (e: Error) => {
    this.failed = e;
    this.ended = true;
    this.notify();
  };
  private notify() {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  // Over budget: stop reading unless the handler is waiting for data.
  squeeze(): void {
    if (this.wake === null && !this.socket.isPaused()) this.socket.pause();
  }

  // Open, nothing unread: safe to send the next request on.
  get idle(): boolean {
    return !this.ended && !this.detached && this.chunks.length === 0;
  }

  get eof(): boolean {
    return this.ended && this.chunks.length === 0;
  }

  // Next chunk, or null at end of stream (or after an error: the handler
  // treats both as "the peer is gone").
  async read(): Promise<Buffer | null> {
    for (;;) {
      const c = this.chunks.shift();
      if (c) {
        this.take(-c.length);
        if (this.buffered <= HIGH_WATER && !ledger.over && this.socket.isPaused()) this.socket.resume();
        return c;
      }
      if (this.ended || this.detached) return null;
      // Nothing queued and the handler waits: it reads, budget or not.
      if (this.socket.isPaused()) this.socket.resume();
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  // Make a pending (and every later) read() return null, leaving the socket
  // open: used by timeouts that still want to answer the client.
  interrupt(): void {
    this.detached = true;
    this.notify();
  }

  // Give bytes back (the part of a chunk past the message the handler was
  // reading): the next read() returns them first.
  unshift(b: Uint8Array): void {
    if (b.length === 0) return;
    const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
    this.chunks.unshift(buf);
    this.take(buf.length);
  }

  // Stop reading; returns whatever was buffered so the new owner (a TLS
  // layer, a byte pipe) can be handed it. The socket stays paused.
  detach(): Buffer {
    this.detached = true;
    this.socket.pause();
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    this.socket.off("close", this.onClose);
    this.socket.off("error", this.onError);
    ledger.live.delete(this);
    const rest = Buffer.concat(this.chunks);
    this.chunks = [];
    this.take(-this.buffered);
    this.notify();
    return rest;
  }
}

// Write with back-pressure: resolves when the socket can take more.
export function writeAll(socket: Duplex, data: Uint8Array | string): Promise<void> | void {
  if (socket.destroyed) throw new Error("socket closed");
  if (socket.write(data)) return;
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      socket.off("drain", done);
      socket.off("close", done);
      if (socket.destroyed) reject(new Error("socket closed"));
      else resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}
