import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCa } from "../../../src/gate/tls/ca.ts";
import { homeFiles, stageHome } from "../../../src/provision/home.ts";
import { caMarker, homeStepArgv, NEEDS_TRUST, RELAY_DOWN, relayListenLine, trustStepArgv, type GuestPaths } from "../../../src/provision/scripts.ts";
import { testSpec } from "../launch/fixtures/spec.ts";

// The provisioning steps are shell scripts; these run them with a real sh,
// tar and grep against temporary directories standing in for the guest
// paths, and a real listening socket standing in for the relay.

const root = mkdtempSync(join(tmpdir(), "cb-prov-scripts-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ca = await createCa("scripts-a");
const other = await createCa("scripts-b");

function run(argv: string[], input?: Uint8Array | string) {
  const r = Bun.spawnSync(argv, { stdin: input === undefined ? "ignore" : typeof input === "string" ? new Blob([input]) : input, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stderr: r.stderr.toString() };
}

function guest(name: string, relayPort: number): GuestPaths {
  const dir = join(root, name);
  mkdirSync(join(dir, "home"), { recursive: true });
  mkdirSync(join(dir, "certs"), { recursive: true });
  return { home: join(dir, "home"), caFile: join(dir, "ca", "claude-bottle.crt"), bundle: join(dir, "certs", "ca-certificates.crt"), relayPort };
}

function tarOf(dir: string, names: string[]): Uint8Array {
  const r = Bun.spawnSync(["tar", "-C", dir, "-cf", "-", ...names], { stdout: "pipe" });
  expect(r.exitCode).toBe(0);
  return r.stdout;
}

describe("caMarker", () => {
  test("a full base64 line of this CA's PEM, found in no other CA", () => {
    const m = caMarker(ca.certPem);
    expect(m).toHaveLength(64);
    expect(ca.certPem.split("\n")).toContain(m);
    expect(other.certPem).not.toContain(m);
    expect(() => caMarker("")).toThrow();
  });
});

describe("relayListenLine", () => {
  test("127.0.0.1:3128 in /proc/net/tcp form, LISTEN state", () => {
    expect(relayListenLine(3128)).toBe(" 0100007F:0C38 00000000:0000 0A ");
  });
});

describe("home step", () => {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  afterAll(() => listener.stop(true));
  const spec = testSpec({ prompt: "Be careful.\n", supervise: true });
  const staged = join(root, "staged");
  mkdirSync(staged, { mode: 0o700 });
  const names = stageHome(staged, spec, []);

  test("unpacks the home, waits for the relay, and reports a store without the CA", () => {
    const g = guest("untrusted", listener.port);
    writeFileSync(g.bundle, other.certPem);
    const r = run(homeStepArgv(caMarker(ca.certPem), 2000, g), tarOf(staged, names));
    expect(r.code).toBe(NEEDS_TRUST);
    for (const f of homeFiles(spec)) {
      expect(readFileSync(join(g.home, f.path), "utf8")).toBe(f.content);
      expect(statSync(join(g.home, f.path)).mode & 0o777).toBe(f.mode);
    }
    // The home directory itself keeps its mode (no "." entry in the tar).
    expect(statSync(g.home).mode & 0o777).toBe(statSync(join(root, "untrusted")).mode & 0o777);
  });

  test("exit 0 when both the CA file and the system bundle hold this CA", () => {
    const g = guest("trusted", listener.port);
    mkdirSync(join(g.caFile, ".."), { recursive: true });
    writeFileSync(g.caFile, ca.certPem);
    writeFileSync(g.bundle, other.certPem + ca.certPem);
    expect(run(homeStepArgv(caMarker(ca.certPem), 2000, g), tarOf(staged, names)).code).toBe(0);
    // Another bottle's CA in the store is not this one.
    writeFileSync(g.bundle, other.certPem);
    expect(run(homeStepArgv(caMarker(ca.certPem), 2000, g), tarOf(staged, names)).code).toBe(NEEDS_TRUST);
  });

  test("a bottle that started with its home: no tar is read, only the wait and the check", () => {
    const g = guest("seeded", listener.port);
    mkdirSync(join(g.caFile, ".."), { recursive: true });
    writeFileSync(g.caFile, ca.certPem);
    writeFileSync(g.bundle, ca.certPem);
    // Garbage on stdin would fail tar: the step must not read it.
    const r = run(homeStepArgv(caMarker(ca.certPem), 2000, g, { tar: false }), "not a tar archive at all".repeat(40));
    expect(r.code).toBe(0);
    expect(existsSync(join(g.home, ".gitconfig"))).toBe(false);
    writeFileSync(g.bundle, other.certPem);
    expect(run(homeStepArgv(caMarker(ca.certPem), 2000, g, { tar: false })).code).toBe(NEEDS_TRUST);
  });

  test("nothing listening on the relay port: RELAY_DOWN after the wait", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = closed.port;
    closed.stop(true);
    const g = guest("norelay", port);
    const t0 = Date.now();
    const r = run(homeStepArgv(caMarker(ca.certPem), 300, g), tarOf(staged, names));
    expect(r.code).toBe(RELAY_DOWN);
    expect(r.stderr).toContain("relay");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  test("a broken tar fails the step", () => {
    const g = guest("badtar", listener.port);
    const r = run(homeStepArgv(caMarker(ca.certPem), 2000, g), "not a tar archive at all".repeat(40));
    expect([0, NEEDS_TRUST, RELAY_DOWN]).not.toContain(r.code);
  });
});

describe("trust step", () => {
  test("writes the CA file and appends the CA to the bundle once, on its own line", () => {
    const g = guest("trust", 1);
    // A bundle whose last line has no newline: the CA must not be glued to it.
    writeFileSync(g.bundle, other.certPem.trimEnd());
    const m = caMarker(ca.certPem);
    for (let i = 0; i < 2; i++) expect(run(trustStepArgv(m, g), ca.certPem).code).toBe(0);
    expect(readFileSync(g.caFile, "utf8")).toBe(ca.certPem);
    expect(statSync(g.caFile).mode & 0o777).toBe(0o644);
    const bundle = readFileSync(g.bundle, "utf8");
    expect(bundle).toBe(other.certPem.trimEnd() + "\n" + ca.certPem);
    // The result is a bundle OpenSSL reads: both certificates, in order.
    const x = Bun.spawnSync(["openssl", "storeutl", "-noout", "-certs", g.bundle], { stdout: "pipe", stderr: "pipe" });
    expect(x.exitCode).toBe(0);
    expect(x.stdout.toString()).toContain("Total found: 2");
  });

  test("creates the bundle when the image has none", () => {
    const g = guest("nobundle", 1);
    expect(run(trustStepArgv(caMarker(ca.certPem), g), ca.certPem).code).toBe(0);
    expect(readFileSync(g.bundle, "utf8")).toBe(ca.certPem);
  });
});

describe("stageHome", () => {
  test("skills are copied with their links as links, never the file a link points at", () => {
    const skill = join(root, "skill-src");
    mkdirSync(join(skill, "sub"), { recursive: true });
    writeFileSync(join(skill, "SKILL.md"), "# s\n");
    writeFileSync(join(root, "host-key"), "PRIVATE KEY MATERIAL");
    symlinkSync(join(root, "host-key"), join(skill, "sub", "key"));
    const dir = join(root, "stage-skill");
    mkdirSync(dir, { mode: 0o700 });
    const names = stageHome(dir, testSpec({ skills: ["demo"] }), [skill]);
    expect(names).toEqual([".claude", ".claude.json", ".gitconfig"]);
    const copied = join(dir, ".claude", "skills", "demo");
    expect(readFileSync(join(copied, "SKILL.md"), "utf8")).toBe("# s\n");
    expect(lstatSync(join(copied, "sub", "key")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(copied, "sub", "key"))).toBe(join(root, "host-key"));
    expect(statSync(join(dir, ".claude")).mode & 0o777).toBe(0o755);
    expect(existsSync(join(dir, ".claude-bottle"))).toBe(false); // no prompt, no prompt file
  });
});
