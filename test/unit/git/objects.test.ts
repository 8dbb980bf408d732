import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { compileDlp } from "../../../src/gate/dlp/index.ts";
import { needsWholeScan, scanBlobBytes, scanCommitOrTag, scanTree } from "../../../src/gate/gitpush/objects.ts";
import { tempRepo } from "../../helpers/git-repo.ts";

// The object scanner over objects the real git wrote (cat-file output), so
// the parsing is judged on git's own bytes: which part a finding names, and
// a clean object with every part present passes.

const SECRET = "objects-test-Zq8Wm3Xr5Tn7Lp2Kv9";
const dlp = compileDlp({ secrets: [{ name: "S", value: SECRET }], placeholders: [] });
const plain = () => dlp.bodyScanner();
const blob = () => dlp.encodedBodyScanner(null);


describe("git objects", () => {
  test("commit: author, committer, other headers (continued lines too) and message, each named", () => {
    const r = tempRepo("cb-objects-");
    try {
      const tree = r.git(["mktree"], "").toString().trim();
      const commit = (author: string, extra: string, msg: string) => {
        const raw = `tree ${tree}\nauthor ${author} <a@example.invalid> 1700000000 +0000\ncommitter C <c@example.invalid> 1700000000 +0000\n${extra}\n${msg}\n`;
        const oid = r.git(["hash-object", "-t", "commit", "-w", "--stdin"], raw).toString().trim();
        return r.git(["cat-file", "commit", oid]);
      };
      expect(scanCommitOrTag("commit", commit(`A ${SECRET}`, "", "clean"), plain)).toEqual({ rule: "secret:S", part: "the author" });
      expect(scanCommitOrTag("commit", commit("A", `gpgsig -----BEGIN PGP SIGNATURE-----\n \n ${SECRET}\n -----END PGP SIGNATURE-----\n`, "clean"), plain)).toEqual({
        rule: "secret:S",
        part: "the headers",
      });
      expect(scanCommitOrTag("commit", commit("A", `x-anything ${SECRET}\n`, "clean"), plain)).toEqual({ rule: "secret:S", part: "the headers" });
      expect(scanCommitOrTag("commit", commit("A", "", `msg ${SECRET}`), plain)).toEqual({ rule: "secret:S", part: "the message" });
      expect(scanCommitOrTag("commit", commit("A", "encoding UTF-8\n", "all clean"), plain)).toBeNull();
    } finally {
      r.done();
    }
  });

  test("tag: name, tagger and message", () => {
    const r = tempRepo("cb-objects-");
    try {
      r.git(["commit", "-q", "--allow-empty", "-m", "x"]);
      const tag = (name: string, tagger: string, msg: string) => {
        r.git(["tag", "-f", "-a", name, "-m", msg], undefined, { GIT_COMMITTER_NAME: tagger });
        return r.git(["cat-file", "tag", name]);
      };
      expect(scanCommitOrTag("tag", tag("v1", "T", `release ${SECRET}`), plain)).toEqual({ rule: "secret:S", part: "the message" });
      expect(scanCommitOrTag("tag", tag("v2", `T ${SECRET}`, "release"), plain)).toEqual({ rule: "secret:S", part: "the tagger" });
      expect(scanCommitOrTag("tag", tag(`v-${SECRET}`, "T", "release"), plain)).toEqual({ rule: "secret:S", part: "the name" });
      expect(scanCommitOrTag("tag", tag("v3", "T", "a clean release"), plain)).toBeNull();
    } finally {
      r.done();
    }
  });

  test("tree: every entry name, whatever the binary oids around it hold", () => {
    const r = tempRepo("cb-objects-");
    try {
      writeFileSync(join(r.dir, "a.txt"), "a");
      writeFileSync(join(r.dir, `${SECRET}.txt`), "b");
      r.git(["add", "-A"]);
      const tree = r.git(["write-tree"]).toString().trim();
      expect(scanTree(r.git(["cat-file", "tree", tree]), 20, plain)).toEqual({ rule: "secret:S", part: "the file names" });
      r.git(["rm", "-q", "--cached", `${SECRET}.txt`]);
      const clean = r.git(["write-tree"]).toString().trim();
      expect(scanTree(r.git(["cat-file", "tree", clean]), 20, plain)).toBeNull();
    } finally {
      r.done();
    }
  });

  test("blob: archives and binaries are scanned whole, inflated; text is left to the diff", async () => {
    const gz = gzipSync(Buffer.from(`key ${SECRET}\n`));
    expect(needsWholeScan(gz)).toBe(true);
    expect(needsWholeScan(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1]))).toBe(true);
    expect(needsWholeScan(Buffer.from("plain text\n"))).toBe(false);
    expect(await scanBlobBytes([gz.subarray(0, 7), gz.subarray(7)], blob)).toEqual({ rule: "secret:S", part: "the content" });
    expect(await scanBlobBytes([gzipSync(Buffer.from("nothing here\n"))], blob)).toBeNull();
  });
});
