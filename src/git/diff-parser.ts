// A streaming parser for the output of
//   git log --format=format:commit%x20%H%n%w(0,1,1)%B -p --cc -U0 --text ...
// that hands the *added* lines of every file, and every commit message, to a
// sink as raw bytes, section by section. Pure (no I/O), byte-oriented and
// bounded: content lines are streamed through without being buffered, so a
// 100 MB line (a minified bundle, a binary shown with --text) costs no memory
// here; only header lines are buffered, up to MAX_HEADER bytes.
//
// Line grammar (see git-log(1) "combined diff format"):
//   commit <oid>                  start of a commit (our --format)
//   ' ' <message line>            commit message, indented by %w(0,1,1)
//   diff --git a/x b/y | diff --cc y | diff --combined y
//   index/mode/similarity/Binary/--- lines   file headers
//   +++ b/<path> | +++ /dev/null  the new path (C-quoted when unusual)
//   @@ ... @@  / @@@ ... @@@      hunk header; n '@' => n-1 parents
//   <n-1 prefix chars><content>   prefix chars are '+', '-' or ' ';
//                                 a line is in the result and new when its
//                                 prefix has a '+' and no '-'
//   \ No newline at end of file

export type Section = { commit: string; kind: "message" } | { commit: string; kind: "file"; path: string };

export interface DiffSink {
  begin(section: Section): void;
  // Bytes of added lines (prefix stripped, '\n' kept). Chunks may split lines.
  data(bytes: Uint8Array): void;
  end(): void;
}

const NL = 10;
const MAX_HEADER = 64 * 1024;
const dec = new TextDecoder();
const NEWLINE = new Uint8Array([NL]);

type State = "top" | "message" | "fileHeader" | "hunk";
type LineMode = "head" | "header" | "stream" | "skip";

export class DiffParser {
  private state: State = "top";
  private commit = "";
  private path = "";
  private prefixLen = 1;
  private open = false;

  private mode: LineMode = "head";
  private head: number[] = [];
  private header: Uint8Array[] = [];
  private headerLen = 0;

  constructor(private readonly sink: DiffSink) {}

  push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.mode === "stream" || this.mode === "skip") {
        const nl = chunk.indexOf(NL, i);
        const stop = nl < 0 ? n : nl + 1;
        if (this.mode === "stream" && stop > i) this.sink.data(chunk.subarray(i, stop));
        i = stop;
        if (nl >= 0) this.mode = "head";
        continue;
      }
      if (this.mode === "header") {
        const nl = chunk.indexOf(NL, i);
        const stop = nl < 0 ? n : nl;
        this.appendHeader(chunk.subarray(i, stop));
        if (nl < 0) {
          i = n;
        } else {
          i = nl + 1;
          this.finishHeader();
        }
        continue;
      }
      // head: collect the first few bytes of a line to classify it.
      const b = chunk[i]!;
      i++;
      if (b === NL) {
        this.classify(true);
        continue;
      }
      this.head.push(b);
      if (this.head.length >= Math.max(8, this.prefixLen + 1)) this.classify(false);
    }
  }

  end(): void {
    if (this.mode === "head" && this.head.length > 0) this.classify(true);
    else if (this.mode === "header") this.finishHeader();
    this.mode = "head";
    this.closeSection();
  }

  // Decide what the current line is from its first bytes. `complete`: the
  // newline has been seen (it is not in `head`).
  private classify(complete: boolean): void {
    const head = Uint8Array.from(this.head);
    this.head = [];
    const first = head[0];
    if (this.state === "message" && first === 0x20) {
      this.emit("message", head.subarray(1), complete);
      return;
    }
    if (this.state === "hunk" && (first === 0x2b || first === 0x2d || first === 0x20)) {
      const prefix = head.subarray(0, this.prefixLen);
      const added = prefix.includes(0x2b) && !prefix.includes(0x2d);
      if (added) this.emit("file", head.subarray(this.prefixLen), complete);
      else this.mode = complete ? "head" : "skip";
      return;
    }
    if (this.state === "hunk" && first === 0x5c) {
      // "\ No newline at end of file"
      this.mode = complete ? "head" : "skip";
      return;
    }
    // A header line: buffer it whole.
    this.header = [];
    this.headerLen = 0;
    this.appendHeader(head);
    if (complete) this.finishHeader();
    else this.mode = "header";
  }

  private emit(kind: "message" | "file", bytes: Uint8Array, complete: boolean): void {
    if (!this.open) {
      this.sink.begin(kind === "message" ? { commit: this.commit, kind } : { commit: this.commit, kind, path: this.path });
      this.open = true;
    }
    if (bytes.length > 0) this.sink.data(bytes);
    if (complete) {
      this.sink.data(NEWLINE);
      this.mode = "head";
    } else {
      this.mode = "stream";
    }
  }

  private appendHeader(bytes: Uint8Array): void {
    const room = MAX_HEADER - this.headerLen;
    if (room <= 0 || bytes.length === 0) return;
    const part = bytes.length > room ? bytes.subarray(0, room) : bytes;
    this.header.push(part.slice());
    this.headerLen += part.length;
  }

  private finishHeader(): void {
    const buf = new Uint8Array(this.headerLen);
    let o = 0;
    for (const p of this.header) {
      buf.set(p, o);
      o += p.length;
    }
    this.header = [];
    this.headerLen = 0;
    this.mode = "head";
    this.headerLine(dec.decode(buf));
  }

  private headerLine(line: string): void {
    if (line.startsWith("commit ")) {
      this.closeSection();
      this.commit = line.slice(7).trim();
      this.state = "message";
      return;
    }
    if (line.startsWith("diff --git ")) {
      this.closeSection();
      this.state = "fileHeader";
      this.path = pathFromDiffGit(line.slice(11));
      return;
    }
    if (line.startsWith("diff --cc ") || line.startsWith("diff --combined ")) {
      this.closeSection();
      this.state = "fileHeader";
      this.path = unquotePath(line.slice(line.indexOf(" ", 5) + 1));
      return;
    }
    if (this.state === "fileHeader" && line.startsWith("+++ ")) {
      // git appends a TAB to names containing a space (for GNU patch).
      const p = line.slice(4).replace(/\t$/, "");
      if (p !== "/dev/null") this.path = stripPrefix(unquotePath(p));
      return;
    }
    if ((this.state === "fileHeader" || this.state === "hunk") && line.startsWith("@@")) {
      let at = 0;
      while (line[at] === "@") at++;
      this.prefixLen = Math.max(1, at - 1);
      this.state = "hunk";
      return;
    }
    // Other headers (index, mode, Binary files ..., blank lines) carry no content.
  }

  private closeSection(): void {
    if (this.open) {
      this.sink.end();
      this.open = false;
    }
  }
}

function stripPrefix(p: string): string {
  return p.startsWith("b/") || p.startsWith("a/") ? p.slice(2) : p;
}

// "a/x b/y" (each side possibly C-quoted): take the b side.
function pathFromDiffGit(rest: string): string {
  if (rest.endsWith('"')) {
    const start = rest.lastIndexOf(' "');
    if (start >= 0) return stripPrefix(unquotePath(rest.slice(start + 1)));
  }
  const idx = rest.lastIndexOf(" b/");
  return idx >= 0 ? rest.slice(idx + 3) : stripPrefix(rest);
}

// git's C-style quoting of unusual path names: "dir/\303\251\tx".
export function unquotePath(s: string): string {
  if (!(s.length >= 2 && s.startsWith('"') && s.endsWith('"'))) return s;
  const body = s.slice(1, -1);
  const bytes: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, '"': 34, "\\": 92 };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      for (const b of new TextEncoder().encode(c)) bytes.push(b);
      continue;
    }
    const nx = body[i + 1] ?? "";
    if (/[0-7]/.test(nx)) {
      bytes.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(simple[nx] ?? nx.charCodeAt(0));
      i += 1;
    }
  }
  return dec.decode(Uint8Array.from(bytes));
}
