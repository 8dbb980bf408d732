import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formulaChecksums } from "../../scripts/lib/formula.ts";
import { parseSums } from "../../scripts/lib/checksums.ts";
import { SHIPPED_DOCS } from "../../scripts/lib/release.ts";
import { hostTarget, RELEASE_TARGETS } from "../../scripts/lib/targets.ts";
import pkg from "../../package.json" with { type: "json" };

// Runs the real release script (real cross-compiles, real gzip), then checks
// its output with independent tools: GNU tar lists the layout, node:crypto
// recomputes the checksums, the host binary runs, and install.sh installs it
// from a loopback HTTP server.

// Each check reads or unpacks ~100 MB binaries; on a loaded 2-core machine
// that takes seconds, so bun's 5 s default is too tight when run on its own.
setDefaultTimeout(60_000);

const root = join(import.meta.dir, "..", "..");
const version = pkg.version;
const host = hostTarget();
if (!host) throw new Error(`no release target for this machine (${process.platform}-${process.arch})`);
const REPO = "example-owner/claude-bottle";
const work = mkdtempSync(join(tmpdir(), "cb-release-"));
const out = join(work, "dist");

async function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}) {
  const p = Bun.spawn(cmd, { cwd: opts.cwd ?? root, env: opts.env ?? process.env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

// All four targets, so the formula can be rendered. Exit 3 means a target
// runtime could not be fetched from the npm registry (offline machine): then
// only the host target is built and the cross-target checks say why they
// are skipped.
let release = await run(["bun", "scripts/release.ts", "--targets", "all", "--out-dir", out, "--repo", REPO]);
let crossSkip: string | undefined;
if (release.code === 3) {
  crossSkip = `a cross-target runtime could not be fetched: ${release.stderr.split("\n")[0]}`;
  rmSync(out, { recursive: true, force: true });
  release = await run(["bun", "scripts/release.ts", "--targets", "host", "--out-dir", out, "--repo", REPO]);
}
if (release.code !== 0) throw new Error(`release script failed (exit ${release.code}):\n${release.stderr}${release.stdout}`);
const built = crossSkip ? [host] : [...RELEASE_TARGETS];
const crossTargets = built.filter((t) => t.name !== host.name);

afterAll(() => rmSync(work, { recursive: true, force: true }));

const tarballOf = (t: string) => `claude-bottle-${version}-${t}.tar.gz`;
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
// The commit the release script baked in (it prints it). Other work may move
// HEAD meanwhile, so check it is a real commit rather than today's HEAD.
const releasedCommit = /\(commit ([0-9a-f]{12}(?:-dirty)?)\)/.exec(release.stdout)?.[1];

function extract(target: string): string {
  const dest = join(work, "x", target);
  if (!existsSync(dest)) {
    mkdirSync(dest, { recursive: true });
    const r = Bun.spawnSync(["tar", "-xzf", join(out, tarballOf(target)), "-C", dest]);
    if (r.exitCode !== 0) throw new Error(`tar -x failed: ${r.stderr.toString()}`);
  }
  return join(dest, `claude-bottle-${version}-${target}`, "claude-bottle");
}

describe("release script output", () => {
  test("writes one tarball per target and a SHA256SUMS that lists exactly them", () => {
    const files = readdirSync(out).filter((f) => f.endsWith(".tar.gz")).sort();
    expect(files).toEqual(built.map((t) => tarballOf(t.name)).sort());
    const sums = parseSums(readFileSync(join(out, "SHA256SUMS"), "utf8"));
    expect([...sums.keys()].sort()).toEqual(files);
    for (const f of files) expect(sums.get(f)).toBe(sha256(join(out, f)));
  });

  test("SHA256SUMS passes `sha256sum -c`", async () => {
    const r = await run(["sha256sum", "-c", "SHA256SUMS"], { cwd: out });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(built.length);
  });

  test("each tarball has one top dir with the executable binary and the shipped docs", () => {
    const docs = SHIPPED_DOCS.filter((d) => existsSync(join(root, d)));
    for (const t of built) {
      const top = `claude-bottle-${version}-${t.name}/`;
      const r = Bun.spawnSync(["tar", "-tvzf", join(out, tarballOf(t.name))]);
      expect(r.exitCode).toBe(0);
      const lines = r.stdout.toString().trim().split("\n");
      const names = lines.map((l) => l.split(/\s+/).pop()!).sort();
      expect(names).toEqual([top, `${top}claude-bottle`, ...docs.map((d) => top + d)].sort());
      const bin = lines.find((l) => l.endsWith(`${top}claude-bottle`))!;
      expect(bin.startsWith("-rwxr-xr-x")).toBe(true);
    }
  });

  test("the host binary from the tarball prints version, commit and target", async () => {
    const r = await run([extract(host.name), "--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`claude-bottle ${version}`);
    expect(releasedCommit).toBeDefined();
    const sha = releasedCommit!.replace(/-dirty$/, "");
    expect(Bun.spawnSync(["git", "cat-file", "-e", `${sha}^{commit}`], { cwd: root }).exitCode).toBe(0);
    expect(r.stdout).toContain(`commit ${releasedCommit}`);
    expect(r.stdout).toContain(`target ${host.bun}`);
  });

  test("the host binary from the tarball runs `up --dry-run` in an empty dir and creates nothing", async () => {
    const cwd = mkdtempSync(join(work, "empty-"));
    const home = mkdtempSync(join(work, "home-"));
    const r = await run([extract(host.name), "up", "--dry-run"], {
      cwd,
      env: { PATH: process.env.PATH, HOME: home, CLAUDE_BOTTLE_HOME: home },
    });
    expect(r.stderr).not.toContain("internal error");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/backend\s+(docker|smolmachines)/);
    expect(existsSync(join(home, "state"))).toBe(false);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe.skipIf(crossTargets.length === 0)(
  crossSkip ? `cross targets (skipped: ${crossSkip})` : "cross targets",
  () => {
    // Magic numbers of the executable formats: ELF e_machine, Mach-O 64 cputype.
    const expected: Record<string, (b: Buffer) => boolean> = {
      "linux-arm64": (b) => b.readUInt32BE(0) === 0x7f454c46 && b.readUInt16LE(18) === 0xb7,
      "linux-x64": (b) => b.readUInt32BE(0) === 0x7f454c46 && b.readUInt16LE(18) === 0x3e,
      "darwin-arm64": (b) => b.readUInt32LE(0) === 0xfeedfacf && b.readUInt32LE(4) === 0x0100000c,
      "darwin-x64": (b) => b.readUInt32LE(0) === 0xfeedfacf && b.readUInt32LE(4) === 0x01000007,
    };

    test("every binary is an executable for its own OS and CPU", () => {
      for (const t of built) {
        const head = Buffer.from(readFileSync(extract(t.name)).subarray(0, 64));
        expect({ target: t.name, ok: expected[t.name]!(head) }).toEqual({ target: t.name, ok: true });
      }
    });

    test("every binary carries the program with its build target (nothing stripped)", () => {
      for (const t of built) {
        const bin = readFileSync(extract(t.name));
        expect(bin.length).toBeGreaterThan(40 * 1024 * 1024);
        // The bundle's strings survive minification; a stripped binary would be plain bun.
        expect(bin.includes(Buffer.from("Run a coding agent in a sealed bottle"))).toBe(true);
        expect(bin.includes(Buffer.from(JSON.stringify(t.bun).slice(1, -1)))).toBe(true);
      }
    });

    test("the Homebrew formula names every tarball with the sha256 in SHA256SUMS", () => {
      const formula = readFileSync(join(out, "claude-bottle.rb"), "utf8");
      const sums = parseSums(readFileSync(join(out, "SHA256SUMS"), "utf8"));
      const named = formulaChecksums(formula);
      expect([...named.keys()].sort()).toEqual(RELEASE_TARGETS.map((t) => tarballOf(t.name)).sort());
      for (const [file, sha] of named) expect(sha).toBe(sha256(join(out, file)));
      for (const [file, sha] of named) expect(sums.get(file)).toBe(sha);
      expect(formula).toContain(`https://github.com/${REPO}/releases/download/v${version}/${tarballOf("darwin-arm64")}`);
      expect(formula).toContain(`version "${version}"`);
      expect(formula).toMatch(/smolvm/);
      expect(formula).toMatch(/docker/);
      expect(formula).toMatch(/test do\n\s+out = shell_output\("#\{bin\}\/claude-bottle --version"\)/);
      expect(formula).not.toMatch(/@[A-Z0-9_]+@/);
    });

    test("render-formula.ts reproduces the formula from SHA256SUMS alone", async () => {
      const again = join(work, "again.rb");
      const r = await run(["bun", "scripts/render-formula.ts", "--sums", join(out, "SHA256SUMS"), "--repo", REPO, "--out", again]);
      expect(r.code).toBe(0);
      expect(readFileSync(again, "utf8")).toBe(readFileSync(join(out, "claude-bottle.rb"), "utf8"));
    });
  },
);

describe("install.sh against a loopback server", () => {
  // /good/ serves the release as built; /bad/ the same SHA256SUMS with one
  // byte of the host tarball flipped; /nosum/ a SHA256SUMS without the host line.
  const dirs: Record<string, string> = { good: out, bad: join(work, "srv-bad"), nosum: join(work, "srv-nosum") };
  let server: ReturnType<typeof Bun.serve>;
  const requests: string[] = [];

  beforeAll(() => {
    for (const d of ["bad", "nosum"]) {
      mkdirSync(dirs[d]!, { recursive: true });
      copyFileSync(join(out, tarballOf(host.name)), join(dirs[d]!, tarballOf(host.name)));
    }
    const tampered = readFileSync(join(dirs.bad!, tarballOf(host.name)));
    tampered[Math.floor(tampered.length / 2)]! ^= 0xff;
    writeFileSync(join(dirs.bad!, tarballOf(host.name)), tampered);
    copyFileSync(join(out, "SHA256SUMS"), join(dirs.bad!, "SHA256SUMS"));
    const other = readFileSync(join(out, "SHA256SUMS"), "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.endsWith(tarballOf(host.name)));
    writeFileSync(join(dirs.nosum!, "SHA256SUMS"), other.map((l) => l + "\n").join("") || `${"0".repeat(64)}  other.tar.gz\n`);

    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const path = new URL(req.url).pathname;
        requests.push(path);
        const m = /^\/(good|bad|nosum)\/v[^/]+\/([A-Za-z0-9._-]+)$/.exec(path);
        const file = m ? Bun.file(join(dirs[m[1]!]!, m[2]!)) : undefined;
        return file && existsSync(file.name!) ? new Response(file) : new Response("not found\n", { status: 404 });
      },
    });
  });
  afterAll(() => server.stop(true));

  // Async spawn: the server runs on this process's event loop.
  function install(kind: string, args: string[], extraEnv: Record<string, string> = {}) {
    const home = mkdtempSync(join(work, "ihome-"));
    return run(["sh", join(root, "install.sh"), ...args], {
      cwd: home,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        TMPDIR: work,
        CLAUDE_BOTTLE_VERSION: version,
        CLAUDE_BOTTLE_DOWNLOAD_URL: `http://127.0.0.1:${server.port}/${kind}/v${version}`,
        ...extraEnv,
      },
    }).then((r) => ({ ...r, home }));
  }

  test("verifies and installs into --prefix/bin; the installed binary runs", async () => {
    const prefix = join(work, "prefix-good");
    const r = await install("good", ["--prefix", prefix]);
    expect(r.stderr).toContain("sha256 verified");
    expect(r.code).toBe(0);
    const v = await run([join(prefix, "bin", "claude-bottle"), "--version"]);
    expect(v.stdout).toContain(`claude-bottle ${version}`);
    expect(v.stdout).toContain(`target ${host.bun}`);
    expect(requests).toContain(`/good/v${version}/${tarballOf(host.name)}`);
    expect(requests).toContain(`/good/v${version}/SHA256SUMS`);
  });

  test("defaults to ~/.local/bin", async () => {
    const r = await install("good", []);
    expect(r.code).toBe(0);
    expect(existsSync(join(r.home, ".local", "bin", "claude-bottle"))).toBe(true);
  });

  test("refuses a tampered tarball and installs nothing", async () => {
    const prefix = join(work, "prefix-bad");
    const r = await install("bad", ["--prefix", prefix]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("checksum mismatch");
    expect(existsSync(join(prefix, "bin", "claude-bottle"))).toBe(false);
  });

  test("refuses a tarball that SHA256SUMS does not list", async () => {
    const prefix = join(work, "prefix-nosum");
    const r = await install("nosum", ["--prefix", prefix]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("no entry for");
    expect(existsSync(join(prefix, "bin", "claude-bottle"))).toBe(false);
  });

  // A PATH with every tool install.sh uses, minus the ones named.
  function toolsWithout(missing: string[]): string {
    const bin = mkdtempSync(join(work, "tools-"));
    const tools = ["sh", "uname", "awk", "curl", "tar", "gzip", "mktemp", "rm", "mkdir", "cp", "chmod", "mv", "sed", "sha256sum", "shasum", "perl", "cat"];
    for (const t of tools) {
      if (missing.includes(t)) continue;
      const p = Bun.which(t);
      if (p) symlinkSync(p, join(bin, t));
    }
    return bin;
  }

  test("works with shasum when sha256sum is missing (macOS)", async () => {
    if (!Bun.which("shasum")) throw new Error("this test needs shasum (perl) on the machine");
    const prefix = join(work, "prefix-shasum");
    const r = await install("good", ["--prefix", prefix], { PATH: toolsWithout(["sha256sum"]) });
    expect(r.stderr).toContain("sha256 verified");
    expect(r.code).toBe(0);
    expect(existsSync(join(prefix, "bin", "claude-bottle"))).toBe(true);
  });

  test("refuses to install when neither sha256sum nor shasum exists", async () => {
    const prefix = join(work, "prefix-notool");
    const before = requests.length;
    const r = await install("good", ["--prefix", prefix], { PATH: toolsWithout(["sha256sum", "shasum"]) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("neither sha256sum nor shasum");
    expect(existsSync(join(prefix, "bin", "claude-bottle"))).toBe(false);
    expect(requests.length).toBe(before); // refused before downloading anything
  });
});
