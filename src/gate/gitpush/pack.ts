import { inflateSync } from "node:zlib";
import type { GitObjectType } from "./objects.ts";

// A git packfile (the body of a push after its commands), read far enough
// to scan every object in it: each entry's header, its zlib stream inflated,
// and deltas applied to their base when the base is in the pack too (by
// offset or by object id). A delta against an object the pack does not
// carry (a thin pack: the server has the base) cannot be rebuilt; what it
// adds, its insert instructions' literal bytes, is returned for scanning
// instead (what it copies comes from an object the server already has).
// Format: git's Documentation/gitformat-pack.txt (version 2 and 3, SHA-1).
//
// Bounded: the pack is read from one buffer the caller holds, the inflated
// objects together may not exceed `maxInflated`, and anything that does not
// parse (a bad header, a zlib stream that does not end where the next entry
// starts, a size that does not match, a bad delta, a wrong checksum) is an
// error: a pack that cannot be read is refused, never waved through.

export class PackError extends Error {}

export interface PackObject {
  // null: the literal bytes of a delta whose base is not in the pack.
  type: GitObjectType | null;
  data: Buffer;
}

const TYPES: Record<number, GitObjectType> = { 1: "commit", 2: "tree", 3: "blob", 4: "tag" };
const OFS_DELTA = 6;
const REF_DELTA = 7;

interface Entry {
  offset: number;
  kind: number;
  data: Buffer;
  baseOffset?: number;
  baseOid?: string;
  resolved?: { type: GitObjectType; data: Buffer };
}

export function readPack(buf: Buffer, limits: { maxInflated: number }): PackObject[] {
  if (buf.length < 32 || buf.toString("latin1", 0, 4) !== "PACK") throw new PackError("not a packfile");
  const version = buf.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new PackError(`pack version ${version}`);
  const count = buf.readUInt32BE(8);
  const end = buf.length - 20;
  const sum = Buffer.from(new Bun.CryptoHasher("sha1").update(buf.subarray(0, end)).digest());
  if (!sum.equals(buf.subarray(end))) throw new PackError("pack checksum mismatch");

  const entries: Entry[] = [];
  const byOffset = new Map<number, Entry>();
  let at = 12;
  let inflated = 0;
  for (let i = 0; i < count; i++) {
    if (at >= end) throw new PackError("pack ends early");
    const offset = at;
    let c = buf[at++]!;
    const kind = (c >> 4) & 7;
    let size = c & 15;
    let shift = 4;
    while (c & 0x80) {
      if (at >= end || shift > 49) throw new PackError("bad object header");
      c = buf[at++]!;
      size += (c & 0x7f) * 2 ** shift;
      shift += 7;
    }
    const e: Entry = { offset, kind, data: Buffer.alloc(0) };
    if (kind === OFS_DELTA) {
      c = buf[at++]!;
      let back = c & 0x7f;
      while (c & 0x80) {
        if (at >= end) throw new PackError("bad delta offset");
        c = buf[at++]!;
        back = (back + 1) * 128 + (c & 0x7f);
      }
      e.baseOffset = offset - back;
      if (e.baseOffset < 12 || e.baseOffset >= offset) throw new PackError("bad delta offset");
    } else if (kind === REF_DELTA) {
      if (at + 20 > end) throw new PackError("pack ends early");
      e.baseOid = buf.toString("hex", at, at + 20);
      at += 20;
    } else if (!TYPES[kind]) {
      throw new PackError(`object type ${kind}`);
    }
    if (inflated + size > limits.maxInflated) throw new PackError("pack too large to scan");
    let out: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      out = inflateSync(buf.subarray(at, end), { info: true, maxOutputLength: Math.max(size, 1) } as never) as never;
    } catch {
      throw new PackError("bad zlib stream");
    }
    if (out.buffer.length !== size) throw new PackError("object size mismatch");
    e.data = out.buffer;
    inflated += size;
    at += out.engine.bytesWritten;
    entries.push(e);
    byOffset.set(offset, e);
  }
  if (at !== end) throw new PackError("bytes after the last object");

  const byOid = new Map<string, Entry>();
  const oidOf = (type: GitObjectType, data: Buffer) => new Bun.CryptoHasher("sha1").update(`${type} ${data.length}\0`).update(data).digest("hex");
  for (const e of entries) {
    const type = TYPES[e.kind];
    if (type) {
      e.resolved = { type, data: e.data };
      byOid.set(oidOf(type, e.data), e);
    }
  }
  // Deltas whose base is resolved, until no more resolve (a chain resolves
  // link by link; a base later in the pack is fine).
  for (let progress = true; progress; ) {
    progress = false;
    for (const e of entries) {
      if (e.resolved) continue;
      const base = e.baseOffset !== undefined ? byOffset.get(e.baseOffset) : byOid.get(e.baseOid!);
      if (!base?.resolved) continue;
      const data = applyDelta(base.resolved.data, e.data);
      inflated += data.length;
      if (inflated > limits.maxInflated) throw new PackError("pack too large to scan");
      e.resolved = { type: base.resolved.type, data };
      byOid.set(oidOf(e.resolved.type, data), e);
      progress = true;
    }
  }
  return entries.map((e) => (e.resolved ? { type: e.resolved.type, data: e.resolved.data } : { type: null, data: deltaLiterals(e.data) }));
}

function readVarint(d: Buffer, at: number): [number, number] {
  let v = 0;
  let shift = 0;
  for (;;) {
    if (at >= d.length || shift > 49) throw new PackError("bad delta");
    const c = d[at++]!;
    v += (c & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(c & 0x80)) return [v, at];
  }
}

// Copy and insert instructions (gitformat-pack "Deltified representation").
export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  let [baseSize, at] = readVarint(delta, 0);
  if (baseSize !== base.length) throw new PackError("delta base size mismatch");
  let size: number;
  [size, at] = readVarint(delta, at);
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  while (at < delta.length) {
    const op = delta[at++]!;
    if (op & 0x80) {
      let off = 0;
      let len = 0;
      for (let b = 0; b < 4; b++) if (op & (1 << b)) off += delta[at++]! * 2 ** (8 * b);
      for (let b = 0; b < 3; b++) if (op & (16 << b)) len += delta[at++]! * 2 ** (8 * b);
      if (len === 0) len = 0x10000;
      if (off + len > base.length || o + len > size || at > delta.length) throw new PackError("bad delta copy");
      base.copy(out, o, off, off + len);
      o += len;
    } else if (op > 0) {
      if (at + op > delta.length || o + op > size) throw new PackError("bad delta insert");
      delta.copy(out, o, at, at + op);
      o += op;
      at += op;
    } else {
      throw new PackError("bad delta opcode");
    }
  }
  if (o !== size) throw new PackError("delta result size mismatch");
  return out;
}

// The bytes a delta inserts (its base is not here to copy from).
function deltaLiterals(delta: Buffer): Buffer {
  let [, at] = readVarint(delta, 0);
  [, at] = readVarint(delta, at);
  const parts: Buffer[] = [];
  while (at < delta.length) {
    const op = delta[at++]!;
    if (op & 0x80) {
      for (let b = 0; b < 7; b++) if (op & (1 << b)) at++;
    } else if (op > 0) {
      // Runs are joined as they are: a value split over two inserts (which
      // git never writes, but a crafted pack can) is still one string.
      parts.push(delta.subarray(at, at + op));
      at += op;
    } else {
      throw new PackError("bad delta opcode");
    }
  }
  return Buffer.concat(parts);
}
