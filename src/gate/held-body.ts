// The part of a request body the DLP window holds back from the upstream.
// The body comes off the socket in pieces of any size: a body of one-byte
// chunks is thousands of one-byte pieces per read, and holding each as its
// own Buffer cost an object per byte (one connection went from 57 MB to
// 926 MB). Small pieces are copied into dense blocks; a large piece (a whole
// socket read) is kept as it is, without a copy. What is counted is the
// memory taken (`capacity`: blocks' size, the large pieces' buffers), and
// that is what the gate's global budget adds up.

const BLOCK = 64 * 1024;
// A piece at least this large is kept as it is.
const ADOPT = 16 * 1024;

interface Entry {
  data: Uint8Array;
  capacity: number;
}

export class HeldBody {
  private entries: Entry[] = [];
  // The block small pieces are being copied into, and how full it is.
  private open: Buffer | null = null;
  private fill = 0;
  // Payload bytes held.
  bytes = 0;
  // Memory taken.
  capacity = 0;

  // `sizeHint`: the body's length when known (a small body gets a small
  // block, not 64 KiB).
  constructor(private readonly sizeHint: number | null) {}

  // Takes `data` in (`data` must not be written to afterwards); returns the
  // capacity added.
  push(data: Uint8Array): number {
    const before = this.capacity;
    this.bytes += data.length;
    if (data.length >= ADOPT) {
      this.seal();
      const capacity = Math.max(data.length, data.buffer.byteLength);
      this.entries.push({ data, capacity });
      this.capacity += capacity;
      return this.capacity - before;
    }
    let off = 0;
    while (off < data.length) {
      if (!this.open || this.fill === this.open.length) {
        this.seal();
        const want = this.entries.length === 0 && this.sizeHint !== null ? Math.min(BLOCK, Math.max(this.sizeHint, 1)) : BLOCK;
        this.open = Buffer.allocUnsafeSlow(want);
        this.capacity += want;
      }
      const n = Math.min(data.length - off, this.open.length - this.fill);
      this.open.set(data.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
    }
    return this.capacity - before;
  }

  // The open block joins the entries as it is (its capacity was counted
  // when it was made).
  private seal(): void {
    if (!this.open) return;
    if (this.fill > 0) this.entries.push({ data: this.open.subarray(0, this.fill), capacity: this.open.length });
    else this.capacity -= this.open.length;
    this.open = null;
    this.fill = 0;
  }

  // Takes the oldest pieces off while at least `keep` bytes stay held (the
  // streaming mode's hold-back). Returns them and the capacity freed.
  takeFront(keep: number): { pieces: Uint8Array[]; freed: number } {
    const pieces: Uint8Array[] = [];
    let freed = 0;
    while (this.entries.length > 0 && this.bytes - this.entries[0]!.data.length >= keep) {
      const e = this.entries.shift()!;
      this.bytes -= e.data.length;
      this.capacity -= e.capacity;
      freed += e.capacity;
      pieces.push(e.data);
    }
    return { pieces, freed };
  }

  // Everything held, oldest first; the holder is empty afterwards.
  drain(): Uint8Array[] {
    this.seal();
    const out = this.entries.map((e) => e.data);
    this.entries = [];
    this.bytes = 0;
    this.capacity = 0;
    return out;
  }
}
