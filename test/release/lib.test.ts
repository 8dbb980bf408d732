import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatSums, parseSums } from "../../scripts/lib/checksums.ts";
import { compileArgs } from "../../scripts/lib/compile.ts";
import { formulaChecksums, renderFormula, tarballName } from "../../scripts/lib/formula.ts";
import { tarBytes, tarGz } from "../../scripts/lib/tar.ts";
import { parseTargets, RELEASE_TARGETS } from "../../scripts/lib/targets.ts";

const root = join(import.meta.dir, "..", "..");
const template = readFileSync(join(root, "packaging/homebrew/claude-bottle.rb.in"), "utf8");
const hex = (c: string) => c.repeat(64);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("tar writer (checked with GNU tar)", () => {
  test("GNU tar extracts our archive with the modes and bytes we wrote", () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-tar-"));
    dirs.push(dir);
    const big = new Uint8Array(1500).map((_, i) => i % 251);
    const gz = tarGz(
      [
        { path: "top/", mode: 0o755 },
        { path: "top/tool", data: big, mode: 0o755 },
        { path: "top/README.md", data: new TextEncoder().encode("hello\n"), mode: 0o644 },
      ],
      1_700_000_000,
    );
    writeFileSync(join(dir, "a.tar.gz"), gz);
    const x = Bun.spawnSync(["tar", "-xzf", "a.tar.gz"], { cwd: dir });
    expect(x.stderr.toString()).toBe("");
    expect(x.exitCode).toBe(0);
    expect(new Uint8Array(readFileSync(join(dir, "top/tool")))).toEqual(big);
    expect(statSync(join(dir, "top/tool")).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, "top/README.md")).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(dir, "top/README.md"), "utf8")).toBe("hello\n");
    expect(Math.floor(statSync(join(dir, "top/tool")).mtimeMs / 1000)).toBe(1_700_000_000);
  });

  test("same input, same bytes (reproducible)", () => {
    const e = [{ path: "a", data: new Uint8Array([1, 2, 3]), mode: 0o644 }];
    expect(tarGz(e, 5)).toEqual(tarGz(e, 5));
    expect(tarBytes(e, 5).length % 512).toBe(0);
  });

  test("refuses names that ustar cannot hold instead of truncating", () => {
    expect(() => tarBytes([{ path: "x".repeat(101), data: new Uint8Array(), mode: 0o644 }], 0)).toThrow(/longer than 100/);
  });
});

describe("targets", () => {
  test("all by default, a subset in release order, host resolves", () => {
    expect(parseTargets(undefined).map((t) => t.name)).toEqual(["darwin-arm64", "darwin-x64", "linux-x64", "linux-arm64"]);
    expect(parseTargets("linux-arm64,darwin-arm64").map((t) => t.name)).toEqual(["darwin-arm64", "linux-arm64"]);
    expect(parseTargets("host").map((t) => t.name)).toEqual([`${process.platform}-${process.arch}`]);
  });
  test("a typo is an error naming the valid targets", () => {
    expect(() => parseTargets("linux-amd64")).toThrow(/unknown target 'linux-amd64'; valid: darwin-arm64/);
  });
});

test("compile flags: defines per target, never a strip step", () => {
  const argv = compileArgs({ root, outfile: "/o/x", target: "bun-darwin-arm64", commit: "abc123" }, "bun");
  expect(argv).toContain("--target=bun-darwin-arm64");
  expect(argv).toContain('BUILD_TARGET="bun-darwin-arm64"');
  expect(argv).toContain('BUILD_COMMIT="abc123"');
  expect(argv.join(" ")).not.toMatch(/strip/);
  // Lazy commands in their own chunks: a process loads only what it runs.
  expect(argv).toContain("--splitting");
  // The usage is baked in only when given (the hello-world floor has none).
  expect(argv.join(" ")).not.toContain("BUILD_HELP");
  const withHelp = compileArgs({ root, outfile: "/o/x", target: "bun-linux-x64", commit: "abc123", help: "\x1b[36mup\x1b[39m \"x\"" }, "bun");
  expect(withHelp).toContain('BUILD_HELP="\\u001b[36mup\\u001b[39m \\"x\\""');
});

describe("SHA256SUMS", () => {
  test("round-trips in sha256sum's format, sorted", () => {
    const text = formatSums(new Map([["b.tar.gz", hex("b")], ["a.tar.gz", hex("a")]]));
    expect(text).toBe(`${hex("a")}  a.tar.gz\n${hex("b")}  b.tar.gz\n`);
    expect(parseSums(text)).toEqual(new Map([["a.tar.gz", hex("a")], ["b.tar.gz", hex("b")]]));
  });
  test("rejects a malformed line", () => {
    expect(() => parseSums("abc  file\n")).toThrow(/line 1/);
  });
});

describe("formula", () => {
  const sums = new Map(RELEASE_TARGETS.map((t, i) => [tarballName("1.2.3", t.name), hex(String(i + 1))] as [string, string]));

  test("each platform block gets its own url and sha256", () => {
    const f = renderFormula({ template, version: "1.2.3", repo: "o/r", sums });
    expect(formulaChecksums(f)).toEqual(sums);
    expect(f).toContain(`url "https://github.com/o/r/releases/download/v1.2.3/claude-bottle-1.2.3-linux-arm64.tar.gz"\n      sha256 "${hex("4")}"`);
  });

  test("refuses a partial set of checksums", () => {
    const partial = new Map(sums);
    partial.delete(tarballName("1.2.3", "darwin-x64"));
    expect(() => renderFormula({ template, version: "1.2.3", repo: "o/r", sums: partial })).toThrow(/no sha256 for claude-bottle-1.2.3-darwin-x64/);
  });

  test("refuses unknown placeholders and bad repos", () => {
    expect(() => renderFormula({ template: template + "@NOPE@", version: "1.2.3", repo: "o/r", sums })).toThrow(/unknown placeholder @NOPE@/);
    expect(() => renderFormula({ template, version: "1.2.3", repo: "o/r\"; system", sums })).toThrow(/owner\/name/);
  });
});
