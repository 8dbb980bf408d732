import { describe, expect, test } from "bun:test";
import { DiffParser, unquotePath, type Section } from "../../../src/git/diff-parser.ts";

// Real `git log --format='format:commit %H%n%w(0,1,1)%B' -p --cc -U0 --text`
// output (git 2.39), including a merge with an evil resolution line and a
// C-quoted path with a space (note git's trailing TAB on the +++ line).
const LOG = [
  "commit aaaa",
  " fix",
  "",
  "diff --cc f",
  "index 895f62f,19ad5dd..a2ae918",
  "--- a/f",
  "+++ b/f",
  "@@@ -1,2 -1,2 +1,2 @@@",
  "- Y",
  "- b",
  "+ a",
  " -X",
  "++EVIL",
  "",
  "commit bbbb",
  " m",
  " ",
  " second paragraph",
  "",
  "diff --git a/f b/f",
  "index 422c2b7..895f62f 100644",
  "--- a/f",
  "+++ b/f",
  "@@ -1 +1 @@",
  "-a",
  "+Y",
  'diff --git "a/sp ace\\\\tt" "b/sp ace\\\\tt"',
  "new file mode 100644",
  "index 0000000..3e75765",
  "--- /dev/null",
  '+++ "b/sp ace\\\\tt"\t',
  "@@ -0,0 +1 @@",
  "++++ not a header: an added line starting with +++",
  "diff --git a/gone b/gone",
  "deleted file mode 100644",
  "--- a/gone",
  "+++ /dev/null",
  "@@ -1 +0,0 @@",
  "-removed secret-looking line",
  "diff --git a/nonl b/nonl",
  "--- /dev/null",
  "+++ b/nonl",
  "@@ -0,0 +1 @@",
  "+last",
  "\\ No newline at end of file",
].join("\n");

type Got = { section: Section; text: string };

function parse(chunks: Uint8Array[]): Got[] {
  const out: Got[] = [];
  let cur: Got | null = null;
  let parts: Uint8Array[] = [];
  const p = new DiffParser({
    begin(section) {
      expect(cur).toBeNull();
      cur = { section, text: "" };
      parts = [];
    },
    data(b) {
      expect(cur).not.toBeNull();
      parts.push(b.slice());
    },
    end() {
      expect(cur).not.toBeNull();
      cur!.text = Buffer.concat(parts).toString("utf8");
      out.push(cur!);
      cur = null;
    },
  });
  for (const c of chunks) p.push(c);
  p.end();
  expect(cur).toBeNull();
  return out;
}

const EXPECTED: Got[] = [
  { section: { commit: "aaaa", kind: "message" }, text: "fix\n" },
  { section: { commit: "aaaa", kind: "file", path: "f" }, text: "a\nEVIL\n" },
  { section: { commit: "bbbb", kind: "message" }, text: "m\n\nsecond paragraph\n" },
  { section: { commit: "bbbb", kind: "file", path: "f" }, text: "Y\n" },
  { section: { commit: "bbbb", kind: "file", path: "sp ace\\tt" }, text: "+++ not a header: an added line starting with +++\n" },
  { section: { commit: "bbbb", kind: "file", path: "nonl" }, text: "last\n" },
];

describe("DiffParser", () => {
  const bytes = new TextEncoder().encode(LOG);

  test("whole input", () => {
    expect(parse([bytes])).toEqual(EXPECTED);
  });

  test("every chunking into 1..17-byte pieces gives the same result", () => {
    for (let size = 1; size <= 17; size++) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect(parse(chunks)).toEqual(EXPECTED);
    }
  });

  test("removed lines and deleted files open no section", () => {
    const got = parse([bytes]);
    expect(got.some((g) => g.section.kind === "file" && g.section.path === "gone")).toBe(false);
    expect(got.map((g) => g.text).join("")).not.toContain("removed");
  });

  test("a huge added line is streamed, not buffered", () => {
    const big = "x".repeat(1 << 20);
    const text = `commit cccc\n msg\n\ndiff --git a/b b/b\n--- /dev/null\n+++ b/b\n@@ -0,0 +1 @@\n+${big}KEY\n`;
    let maxChunk = 0;
    let total = 0;
    const p = new DiffParser({
      begin() {},
      data(b) {
        maxChunk = Math.max(maxChunk, b.length);
        total += b.length;
      },
      end() {},
    });
    const enc = new TextEncoder().encode(text);
    for (let i = 0; i < enc.length; i += 4096) p.push(enc.subarray(i, i + 4096));
    p.end();
    expect(maxChunk).toBeLessThanOrEqual(4096);
    expect(total).toBe("msg\n".length + big.length + "KEY\n".length);
  });
});

describe("unquotePath", () => {
  test("plain names pass through", () => expect(unquotePath("a b")).toBe("a b"));
  test("octal escapes are UTF-8 bytes", () => expect(unquotePath('"b/\\303\\251t\\303\\251"')).toBe("b/été"));
  test("simple escapes", () => expect(unquotePath('"a\\tb\\"c\\\\"')).toBe('a\tb"c\\'));
});
