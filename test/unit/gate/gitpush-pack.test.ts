import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PackError, readPack } from "../../../src/gate/gitpush/pack.ts";
import { isReceivePack } from "../../../src/gate/gitpush/receive-pack.ts";
import { tempRepo } from "../../helpers/git-repo.ts";

// The packfile reader on packs the real git wrote: a full pack (every
// delta resolved to the bytes git itself has), a thin one (a delta whose
// base the pack does not carry: its inserted bytes are what is left to
// scan), and corrupt ones (refused).


const LIMITS = { maxInflated: 64 * 1024 * 1024 };

describe("readPack", () => {
  const r = tempRepo("cb-pack-");
  const big = Array.from({ length: 400 }, (_, i) => `line ${i} of a file that git will store as a delta\n`).join("");
  writeFileSync(join(r.dir, "f.txt"), big);
  r.git(["add", "-A"]);
  r.git(["commit", "-qm", "one"]);
  writeFileSync(join(r.dir, "f.txt"), big + "the one new line\n");
  r.git(["commit", "-qam", "two"]);
  const blob2 = r.git(["rev-parse", "HEAD:f.txt"]).toString().trim();
  const full = Buffer.from(r.git(["pack-objects", "--stdout", "--revs", "--delta-base-offset"], "HEAD\n"));
  const thin = Buffer.from(r.git(["pack-objects", "--stdout", "--revs", "--thin", "--delta-base-offset"], "HEAD\n^HEAD~1\n"));

  test("a full pack: every object, deltas applied, equal to what git has", () => {
    const objects = readPack(full, LIMITS);
    expect(objects.every((o) => o.type !== null)).toBe(true);
    expect(objects.filter((o) => o.type === "commit").length).toBe(2);
    const want = r.git(["cat-file", "blob", blob2]);
    expect(objects.some((o) => o.type === "blob" && o.data.equals(want))).toBe(true);
  });

  test("a thin pack: the delta against a base it lacks gives its inserted bytes", () => {
    const objects = readPack(thin, LIMITS);
    const delta = objects.filter((o) => o.type === null);
    expect(delta.length).toBe(1);
    expect(delta[0]!.data.toString()).toContain("the one new line");
    expect(objects.filter((o) => o.type === "commit").length).toBe(1);
  });

  test("a pack that does not read is refused", () => {
    const flipped = Buffer.from(full);
    flipped[20] = flipped[20]! ^ 0xff;
    expect(() => readPack(flipped, LIMITS)).toThrow(PackError);
    expect(() => readPack(full.subarray(0, full.length - 5), LIMITS)).toThrow(PackError);
    expect(() => readPack(Buffer.from("PACK not a pack at all, really not"), LIMITS)).toThrow(PackError);
    expect(() => readPack(full, { maxInflated: 100 })).toThrow("pack too large to scan");
  });

  afterAll(() => r.done());
});

describe("isReceivePack", () => {
  test("the service by path segment, query value or content type; not upload-pack", () => {
    const yes = [
      "/r.git/git-receive-pack",
      "/r.git/info/refs?service=git-receive-pack",
      "/r.git/info/refs?service=git%252Dreceive-pack",
      "/r.git/git-receive-pack;x=1",
      "/r.git/Git-Receive-Pack",
      "/r.git/info/refs?a=b&Service=git+receive+pack".replace(/\+/g, "-"),
    ];
    for (const p of yes) expect({ p, is: isReceivePack(p, []) }).toEqual({ p, is: true });
    expect(isReceivePack("/r.git/x", [["Content-Type", "application/x-git-receive-pack-request"]])).toBe(true);
    for (const p of ["/r.git/git-upload-pack", "/r.git/info/refs?service=git-upload-pack", "/docs/receive-pack.html", "/search?q=receive"]) {
      expect({ p, is: isReceivePack(p, []) }).toEqual({ p, is: false });
    }
  });
});
