import type { EncodedBodyScanner } from "../gate/dlp/index.ts";
import { needsWholeScan, scanCommitOrTag, scanTree, type GitObjectType, type GitScanners } from "../gate/gitpush/objects.ts";
import type { PushFinding } from "./scan.ts";

// The object pass of the push scan: every object the push brings that the
// mirror does not have (`git rev-list --objects <new tips> --not --all`),
// read with `git cat-file --batch`, and scanned by type
// (gate/gitpush/objects.ts): commits (author, committer, every other
// header, the message), annotated tags (name, tagger, headers, message),
// trees (file and directory names, so a new or renamed path), and blobs
// that a line diff does not show as what they are (binary, or gzip, zlib or
// zip by their first bytes: inflated). Text blobs are left to the diff pass
// (scan.ts), which looks at added lines only, and so sees only what a new
// commit brings: a tag (annotated or not) may name a blob or a tree, whose
// files are in no commit's diff, so every blob reached only that way is
// scanned whole.
//
// Commits, tags and trees go first: a blob finding names its file, and that
// name must already have scanned clean. Memory: one commit, tag or tree at
// a time, and a blob's first 8000 bytes; a blob that is scanned streams
// through the scanner.

const SNIFF = 8000;

interface Listed {
  oid: string;
  // The path rev-list found a blob or tree at (a tag's name for a tag).
  name: string;
}

export async function scanObjects(opts: {
  gitDir: string;
  env: Record<string, string>;
  newOids: readonly string[];
  scanners: GitScanners;
}): Promise<PushFinding | null> {
  if (opts.newOids.length === 0) return null;
  const listed = await listNew(opts);
  if (listed.length === 0) return null;
  const oidBytes = listed[0]!.oid.length / 2;
  const types = new Map<string, GitObjectType>();
  await catFile(opts, "--batch-check", listed.map((l) => l.oid), (oid, type) => {
    types.set(oid, type);
    return null;
  });
  const meta = listed.filter((l) => types.get(l.oid) !== "blob").map((l) => l.oid);
  const blobs = listed.filter((l) => types.get(l.oid) === "blob");
  const names = new Map(blobs.map((b) => [b.oid, b.name]));
  const outside = await blobsOutsideCommits(opts, blobs);

  const found = await catFile(opts, "--batch", meta, (oid, type) => {
    const parts: Uint8Array[] = [];
    return {
      data: (b) => void parts.push(b.slice()),
      end: async () => {
        const data = Buffer.concat(parts);
        const f =
          type === "tree"
            ? scanTree(data, oidBytes, opts.scanners.plain)
            : type === "commit" || type === "tag"
              ? scanCommitOrTag(type, data, opts.scanners.plain)
              : null;
        if (!f) return null;
        // A commit's message is "the commit message", as the diff pass says.
        if (type === "commit" && f.part === "the message") return { rule: f.rule, commit: oid, file: null };
        return { rule: f.rule, commit: oid, file: null, part: f.part, object: type };
      },
    };
  });
  if (found) return found;
  return catFile(opts, "--batch", blobs.map((b) => b.oid), (oid) => blobSink(oid, names.get(oid) ?? "", opts.scanners, outside.has(oid)));
}

// The new blobs no new commit reaches: those of tips that peel to a blob
// or a tree. Empty (and one cheap cat-file) when every tip is a commit or
// a tag on one, which is every push git makes from a branch.
async function blobsOutsideCommits(
  opts: { gitDir: string; env: Record<string, string>; newOids: readonly string[] },
  blobs: readonly Listed[],
): Promise<Set<string>> {
  const peeled: GitObjectType[] = [];
  await catFile(opts, "--batch-check", opts.newOids.map((o) => `${o}^{}`), (_oid, type) => {
    peeled.push(type);
    return null;
  });
  if (peeled.length !== opts.newOids.length) throw new Error("git cat-file: a pushed tip could not be peeled");
  if (peeled.every((t) => t === "commit")) return new Set();
  const commitTips = opts.newOids.filter((_o, i) => peeled[i] === "commit");
  const inCommits = new Set(commitTips.length > 0 ? (await listNew({ ...opts, newOids: commitTips })).map((l) => l.oid) : []);
  return new Set(blobs.filter((b) => !inCommits.has(b.oid)).map((b) => b.oid));
}

// A blob as it streams: its first 8000 bytes decide (unless `whole` says
// no commit's diff shows it); a blob that needs the whole-file scan goes
// through the DLP scanner as it comes, the others are skipped.
function blobSink(oid: string, name: string, scanners: GitScanners, whole: boolean): Sink {
  let head: Uint8Array[] = [];
  let headLen = 0;
  let scanner: EncodedBodyScanner | null = null;
  let skip = false;
  const finding = (f: { rule: string } | null): PushFinding | null =>
    f ? { rule: f.rule, commit: oid, file: shownName(name), object: "blob" } : null;
  const decide = async (): Promise<PushFinding | null> => {
    const first = Buffer.concat(head);
    head = [];
    if (!whole && !needsWholeScan(first.subarray(0, SNIFF))) {
      skip = true;
      return null;
    }
    scanner = scanners.blob();
    return finding(await scanner.push(first));
  };
  return {
    data: async (b) => {
      if (skip) return null;
      if (scanner) return finding(await scanner.push(b));
      head.push(b.slice());
      headLen += b.length;
      return headLen >= SNIFF ? decide() : null;
    },
    end: async () => {
      if (!skip && !scanner) {
        const f = await decide();
        if (f || skip) return f;
      }
      if (!scanner) return null;
      const s: EncodedBodyScanner = scanner;
      try {
        return finding(await s.end());
      } finally {
        s.close();
      }
    },
  };
}

// A name for the pusher's terminal: printable ASCII as it is, anything else
// quoted (it is the pusher's text and has scanned clean with its tree).
function shownName(name: string): string {
  return /^[\x20-\x7e]+$/.test(name) ? name : JSON.stringify(name);
}

async function listNew(opts: { gitDir: string; env: Record<string, string>; newOids: readonly string[] }): Promise<Listed[]> {
  const proc = Bun.spawn(["git", "rev-list", "--objects", ...opts.newOids, "--not", "--all"], {
    cwd: opts.gitDir,
    env: opts.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`git rev-list failed while scanning the push: ${err.trim().split("\n").pop()}`);
  const listed: Listed[] = [];
  for (const line of out.split("\n")) {
    const m = /^([0-9a-f]{40}|[0-9a-f]{64})(?: (.*))?$/.exec(line);
    if (m) listed.push({ oid: m[1]!, name: m[2] ?? "" });
  }
  return listed;
}

interface Sink {
  data(bytes: Uint8Array): Promise<PushFinding | null> | void;
  end(): Promise<PushFinding | null>;
}

// Streams `git cat-file <mode>` over `oids`. --batch-check: `open` is told
// each object's type and gets nothing more. --batch: each object's content
// streams to the sink `open` returns (never held whole here), and a finding
// from it stops the walk.
async function catFile(
  opts: { gitDir: string; env: Record<string, string> },
  mode: "--batch" | "--batch-check",
  oids: readonly string[],
  open: (oid: string, type: GitObjectType) => Sink | null,
): Promise<PushFinding | null> {
  if (oids.length === 0) return null;
  const proc = Bun.spawn(["git", "cat-file", mode], {
    cwd: opts.gitDir,
    env: opts.env,
    stdin: new TextEncoder().encode(oids.join("\n") + "\n"),
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(proc.stderr).text();
  const parser = new BatchParser(mode === "--batch");
  let sink: Sink | null = null;
  const stop = async (f: PushFinding) => {
    proc.kill();
    await proc.exited;
    return f;
  };
  try {
    for await (const chunk of proc.stdout) {
      for (const ev of parser.push(chunk)) {
        let f: PushFinding | null | void = null;
        if (ev.kind === "missing") throw new Error(`git cat-file: object ${ev.oid} is missing`);
        if (ev.kind === "start") sink = open(ev.oid, ev.type);
        else if (ev.kind === "data") f = await sink?.data(ev.bytes);
        else if (ev.kind === "end") {
          f = sink ? await sink.end() : null;
          sink = null;
        }
        if (f) return stop(f);
      }
    }
  } catch (e) {
    proc.kill();
    throw e;
  }
  const code = await proc.exited;
  if (code !== 0) throw new Error(`git cat-file failed while scanning the push: ${(await stderr).trim().split("\n").pop()}`);
  return null;
}

type BatchEvent =
  | { kind: "start"; oid: string; type: GitObjectType }
  | { kind: "data"; bytes: Uint8Array }
  | { kind: "end" }
  | { kind: "missing"; oid: string };

// `git cat-file --batch(-check)` output: "<oid> <type> <size>\n", then for
// --batch the content and "\n"; "<oid> missing\n" for an unknown object.
// Only header lines are buffered; content goes out as it arrives.
class BatchParser {
  private line: Buffer = Buffer.alloc(0);
  // Content bytes left of the current object (+1 for its trailing LF).
  private left = -1;

  constructor(private readonly withContent: boolean) {}

  *push(chunk: Uint8Array): Generator<BatchEvent> {
    let at = 0;
    while (at < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - at);
        // The last byte of an object's run is its LF, not content.
        const content = this.left - n === 0 ? n - 1 : n;
        if (content > 0) yield { kind: "data", bytes: chunk.subarray(at, at + content) };
        this.left -= n;
        at += n;
        if (this.left === 0) {
          this.left = -1;
          yield { kind: "end" };
        }
        continue;
      }
      const nl = chunk.indexOf(0x0a, at);
      if (nl < 0) {
        this.line = Buffer.concat([this.line, chunk.subarray(at)]);
        return;
      }
      const text = Buffer.concat([this.line, chunk.subarray(at, nl)]).toString("latin1");
      this.line = Buffer.alloc(0);
      at = nl + 1;
      const [oid, type, size] = text.split(" ");
      if (type === "missing") {
        yield { kind: "missing", oid: oid! };
        continue;
      }
      if (type !== "commit" && type !== "tree" && type !== "blob" && type !== "tag") throw new Error("git cat-file: unexpected output");
      yield { kind: "start", oid: oid!, type };
      if (!this.withContent) {
        yield { kind: "end" };
        continue;
      }
      this.left = Number(size) + 1;
    }
  }
}
