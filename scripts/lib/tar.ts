// A minimal ustar writer. Why not `tar` or Bun.Archive: GNU and BSD tar take
// different flags for fixed owners and times, and Bun.Archive has no way to
// set a file mode (the binary must be executable). Writing the few headers we
// need ourselves makes the tarball byte-for-byte reproducible on any host.

export interface TarEntry {
  // Path inside the archive; directories end with "/".
  path: string;
  // Absent for directories.
  data?: Uint8Array;
  mode: number;
}

const BLOCK = 512;
const enc = new TextEncoder();

function octal(value: number, width: number): string {
  // width includes the trailing NUL.
  const s = value.toString(8);
  if (s.length > width - 1) throw new Error(`tar: value ${value} does not fit in ${width - 1} octal digits`);
  return s.padStart(width - 1, "0") + "\0";
}

function put(header: Uint8Array, offset: number, width: number, text: string): void {
  const bytes = enc.encode(text);
  if (bytes.length > width) throw new Error(`tar: field too long: ${text}`);
  header.set(bytes, offset);
}

function header(e: TarEntry, mtime: number): Uint8Array {
  const isDir = e.path.endsWith("/");
  const h = new Uint8Array(BLOCK);
  // Our names are short; ustar's prefix field is not needed. Refuse rather
  // than silently truncate.
  if (enc.encode(e.path).length > 100) throw new Error(`tar: path longer than 100 bytes: ${e.path}`);
  put(h, 0, 100, e.path);
  put(h, 100, 8, octal(e.mode & 0o7777, 8));
  put(h, 108, 8, octal(0, 8)); // uid
  put(h, 116, 8, octal(0, 8)); // gid
  put(h, 124, 12, octal(isDir ? 0 : (e.data?.length ?? 0), 12));
  put(h, 136, 12, octal(mtime, 12));
  put(h, 148, 8, "        "); // checksum placeholder: 8 spaces while summing
  put(h, 156, 1, isDir ? "5" : "0");
  put(h, 257, 6, "ustar\0");
  put(h, 263, 2, "00");
  put(h, 265, 32, "root");
  put(h, 297, 32, "root");
  let sum = 0;
  for (const b of h) sum += b;
  put(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

// Pure: entries -> uncompressed tar bytes (owner root:root, one mtime for all).
export function tarBytes(entries: TarEntry[], mtime: number): Uint8Array {
  let total = 2 * BLOCK;
  for (const e of entries) total += BLOCK + Math.ceil((e.data?.length ?? 0) / BLOCK) * BLOCK;
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    out.set(header(e, mtime), at);
    at += BLOCK;
    if (e.data && !e.path.endsWith("/")) {
      out.set(e.data, at);
      at += Math.ceil(e.data.length / BLOCK) * BLOCK;
    }
  }
  // The rest (file padding and the two end-of-archive blocks) is already zero.
  return out;
}

// gzip keeps a zero mtime in its header (zlib default), so equal input gives
// equal output. Level 6, not 9: measured on a 104 MiB binary, 1.8 s vs 4.4 s
// for a 2.5% larger file.
export function tarGz(entries: TarEntry[], mtime: number): Uint8Array {
  return Bun.gzipSync(tarBytes(entries, mtime) as Uint8Array<ArrayBuffer>, { level: 6 });
}
