import type { Duplex } from "node:stream";
import { noteRead } from "./memory.ts";

// Pull-mode reading over a socket: the connection handler asks for the next
// chunk when it is ready for it, and the socket is paused while more than a
// small amount is buffered. Back-pressure is therefore explicit and the
// handler never sees data it did not ask for (no `pipe()` on sockets that
// later change hands, which is where Bun's relays lost bytes).

const HIGH_WATER = 256 * 1024;

export class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failed: Error | null = null;
  private wake: (() => void) | null = null;
  private detached = false;

  constructor(readonly socket: Duplex) {
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("close", this.onEnd);
    socket.on("error", this.onError);
  }

  private onData = (d: Buffer) => {
    noteRead(d.length);
    this.chunks.push(d);
    this.buffered += d.length;
    if (this.buffered > HIGH_WATER) this.socket.pause();
    this.notify();
  };
  private onEnd = () => {
    this.ended = true;
    this.notify();
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
        this.buffered -= c.length;
        if (this.buffered <= HIGH_WATER && this.socket.isPaused()) this.socket.resume();
        return c;
      }
      if (this.ended || this.detached) return null;
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
    this.buffered += buf.length;
  }

  // Stop reading; returns whatever was buffered so the new owner (a TLS
  // layer, a byte pipe) can be handed it. The socket stays paused.
  detach(): Buffer {
    this.detached = true;
    this.socket.pause();
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    this.socket.off("close", this.onEnd);
    this.socket.off("error", this.onError);
    const rest = Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
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
