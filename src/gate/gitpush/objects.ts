import { sniff } from "../dlp/archive.ts";
import type { BodyScanner, DlpFinding, EncodedBodyScanner } from "../dlp/index.ts";

// DLP over one git object's content, by its type: what a push carries
// besides the lines it adds. Shared by the git gate's pre-receive hook
// (src/git/scan-objects.ts, objects read with `git cat-file`) and by the
// gate itself for a receive-pack on an egress route that opted in
// (receive-pack.ts, objects inflated from the packfile).
//
//  - commit: the author and the committer (names, emails, dates) and every
//    other header (gpgsig, mergetag, encoding, and any header git keeps
//    without knowing it), each scanned on its own so a finding says which;
//    the message; and refused when its encoding is not UTF-8 (below);
//  - tag: its name, the tagger, other headers, the message;
//  - tree: the names of its entries (file and directory names: a rename is
//    a new name in a new tree);
//  - blob: the bytes, and inflated when they are gzip, zlib or zip by their
//    first bytes (dlp/archive.ts) — as far as DLP can read them.
// A finding names the part, never the matched text.

export type GitObjectType = "commit" | "tree" | "blob" | "tag";

export interface ObjectFinding {
  rule: string;
  // "the author", "the committer", "the headers", "the message", "the
  // tagger", "the name", "the file names", "the content".
  part: string;
}

export interface GitScanners {
  // Raw bytes (a header, a message, names).
  plain(): BodyScanner;
  // A whole file, inflated when it is an archive.
  blob(): EncodedBodyScanner;
}

const NL = 0x0a;
const SP = 0x20;

function scanBytes(newScanner: () => BodyScanner, bytes: Uint8Array, part: string): ObjectFinding | null {
  const s = newScanner();
  const f: DlpFinding | null = s.push(bytes) ?? s.end();
  return f ? { rule: f.rule, part } : null;
}

// Headers up to the first empty line (continuation lines start with a
// space and belong to the header above), then the message.
function splitHeaders(data: Uint8Array): { headers: { name: string; value: Uint8Array }[]; message: Uint8Array } {
  const headers: { name: string; value: Uint8Array }[] = [];
  let at = 0;
  while (at < data.length) {
    if (data[at] === NL) return { headers, message: data.subarray(at + 1) };
    let end = data.indexOf(NL, at);
    if (end < 0) end = data.length;
    // Continuation lines.
    while (end + 1 < data.length && data[end + 1] === SP) {
      const next = data.indexOf(NL, end + 1);
      end = next < 0 ? data.length : next;
    }
    const line = data.subarray(at, end);
    const sp = line.indexOf(SP);
    const name = Buffer.from(sp < 0 ? line : line.subarray(0, sp)).toString("latin1");
    headers.push({ name, value: sp < 0 ? new Uint8Array(0) : line.subarray(sp + 1) });
    at = end + 1;
  }
  return { headers, message: new Uint8Array(0) };
}

// git re-encodes a commit for every reader (git log, a forge's page) from
// the encoding its header names, so the raw bytes are not what anyone
// reads: in UTF-7 "AKIA" is spelt "+AEEASwBJAEE-". Rules read UTF-8 (and
// ASCII, its subset), so a commit that names another encoding is refused
// rather than decoded: git itself writes UTF-8 unless told otherwise
// (i18n.commitEncoding).
const UTF8_NAMES = new Set(["utf-8", "utf8"]);

export function scanCommitOrTag(type: "commit" | "tag", data: Uint8Array, plain: () => BodyScanner): ObjectFinding | null {
  const { headers, message } = splitHeaders(data);
  const encoding = headers.find((h) => h.name === "encoding");
  if (type === "commit" && encoding && !UTF8_NAMES.has(Buffer.from(encoding.value).toString("latin1").trim().toLowerCase())) {
    return { rule: "non-utf8-commit-encoding", part: "the headers" };
  }
  const rest: Uint8Array[] = [];
  for (const h of headers) {
    if (type === "commit" && (h.name === "tree" || h.name === "parent")) continue;
    if (type === "tag" && (h.name === "object" || h.name === "type")) continue;
    const own = type === "commit" ? h.name === "author" || h.name === "committer" : h.name === "tagger" || h.name === "tag";
    if (own) {
      const f = scanBytes(plain, h.value, h.name === "tag" ? "the name" : `the ${h.name}`);
      if (f) return f;
    } else {
      rest.push(Buffer.from(h.name + " ", "latin1"), h.value, Buffer.from("\n"));
    }
  }
  if (rest.length > 0) {
    const f = scanBytes(plain, Buffer.concat(rest), "the headers");
    if (f) return f;
  }
  return scanBytes(plain, message, "the message");
}

// Tree entries: "<mode> <name>\0<binary oid>"; the names, one per line.
export function scanTree(data: Uint8Array, oidBytes: number, plain: () => BodyScanner): ObjectFinding | null {
  const s = plain();
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(SP, at);
    const nul = sp < 0 ? -1 : data.indexOf(0, sp + 1);
    if (sp < 0 || nul < 0) {
      // Not a tree git wrote: scan what is left as it is.
      const f = s.push(data.subarray(at));
      if (f) return { rule: f.rule, part: "the file names" };
      break;
    }
    const f = s.push(data.subarray(sp + 1, nul)) ?? s.push(Buffer.from("\n"));
    if (f) return { rule: f.rule, part: "the file names" };
    at = nul + 1 + oidBytes;
  }
  const f = s.end();
  return f ? { rule: f.rule, part: "the file names" } : null;
}

export async function scanBlobBytes(chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, blob: () => EncodedBodyScanner): Promise<ObjectFinding | null> {
  const s = blob();
  try {
    for await (const c of chunks) {
      const f = await s.push(c);
      if (f) return { rule: f.rule, part: "the content" };
    }
    const f = await s.end();
    return f ? { rule: f.rule, part: "the content" } : null;
  } finally {
    s.close();
  }
}

// Whether a blob's text is not what a line diff shows: binary (a NUL in
// its first 8000 bytes, git's own test) or an archive by its first bytes.
export function needsWholeScan(head: Uint8Array): boolean {
  return sniff(head) !== null || head.subarray(0, 8000).includes(0);
}
