// A cursor over one length-delimited region of a TLS message, for the
// strict readers of the hellos (sni.ts, server-hello.ts): reading past its
// end is a refusal, and so is leaving bytes unread where the caller says
// `end()`, the way OpenSSL's PACKET reads them.

export class Refused extends Error {}

export class Reader {
  constructor(
    private what: string,
    private b: Uint8Array,
    private p = 0,
    private lim = b.length,
  ) {}
  u8(): number {
    if (this.p + 1 > this.lim) throw new Refused(`truncated ${this.what}`);
    return this.b[this.p++]!;
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u24(): number {
    return (this.u8() << 16) | this.u16();
  }
  skip(n: number): void {
    if (this.p + n > this.lim) throw new Refused(`truncated ${this.what}`);
    this.p += n;
  }
  // The next n bytes as a region of their own.
  sub(n: number): Reader {
    if (this.p + n > this.lim) throw new Refused(`truncated ${this.what}`);
    const r = new Reader(this.what, this.b, this.p, this.p + n);
    this.p += n;
    return r;
  }
  bytes(): Uint8Array {
    return this.b.subarray(this.p, this.lim);
  }
  get left(): number {
    return this.lim - this.p;
  }
  end(what: string): void {
    if (this.p !== this.lim) throw new Refused(`bytes left over after ${what}`);
  }
}
