import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runArgv } from "../../../../src/backends/docker/args.ts";
import { bottleRunInput } from "../../../../src/backends/docker/index.ts";
import { imageBundle, trustFiles, withCa, writeTrust } from "../../../../src/backends/docker/trust.ts";
import { testSpec } from "../../launch/fixtures/spec.ts";

// The bottle's trust store as the docker backend makes it: the image's
// bundle read once (a stand-in docker CLI here, logging its calls), the CA
// appended, both mounted read-only.

const dir = mkdtempSync(join(tmpdir(), "cb-trust-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CERT = (n: string) => `-----BEGIN CERTIFICATE-----\n${n}\n-----END CERTIFICATE-----\n`;

function fakeDocker(name: string, script: string): { bin: string; calls: () => string[] } {
  const bin = join(dir, name);
  const log = join(dir, `${name}.log`);
  writeFileSync(bin, `#!/bin/sh\necho "$*" >> '${log}'\n${script}\n`, { mode: 0o755 });
  return { bin, calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []) };
}

describe("the image's bundle", () => {
  test("read once per image hash with the image's cat, then from the cache", async () => {
    const home = join(dir, "home1");
    const d = fakeDocker("docker-ok", `printf '%s' '${CERT("AAA")}'`);
    const img = { tag: "claude-bottle/agent:abc", hash: "abc123" };
    expect(await imageBundle({ bin: d.bin, env: () => process.env }, home, img)).toBe(CERT("AAA"));
    expect(await imageBundle({ bin: d.bin, env: () => process.env }, home, img)).toBe(CERT("AAA"));
    expect(d.calls()).toEqual(["run --rm --network none --entrypoint cat claude-bottle/agent:abc /etc/ssl/certs/ca-certificates.crt"]);
  });

  test("unreadable (engine error, or no certificate in what came back): null, and nothing cached", async () => {
    const home = join(dir, "home2");
    const img = { tag: "t", hash: "h2" };
    const fails = fakeDocker("docker-fail", "echo 'cat: no such file' >&2; exit 1");
    expect(await imageBundle({ bin: fails.bin, env: () => process.env }, home, img)).toBeNull();
    const empty = fakeDocker("docker-empty", "exit 0");
    expect(await imageBundle({ bin: empty.bin, env: () => process.env }, home, img)).toBeNull();
    expect(existsSync(join(home, "cache", "ca-bundles", "h2.crt"))).toBe(false);
    const ok = fakeDocker("docker-ok2", `printf '%s' '${CERT("BBB")}'`);
    expect(await imageBundle({ bin: ok.bin, env: () => process.env }, home, img)).toBe(CERT("BBB"));
  });
});

describe("the bottle's trust files", () => {
  test("the CA goes after the image's bundle, on a line of its own", () => {
    expect(withCa(CERT("A").trimEnd(), CERT("CA"))).toBe(CERT("A") + CERT("CA"));
    expect(withCa(CERT("A"), CERT("CA"))).toBe(CERT("A") + CERT("CA"));
    expect(withCa("", CERT("CA"))).toBe(CERT("CA"));
  });

  test("written 0644 under <state>/trust, away from the key, and mounted read-only; no mount without a bundle", () => {
    const state = join(dir, "state");
    mkdirSync(join(state, "ca"), { recursive: true, mode: 0o700 });
    const t = writeTrust(state, CERT("A"), CERT("CA"));
    expect(t).toEqual(trustFiles(state));
    expect(readFileSync(t.bundle, "utf8")).toBe(CERT("A") + CERT("CA"));
    expect(readFileSync(t.ca, "utf8")).toBe(CERT("CA"));
    expect(statSync(t.bundle).mode & 0o777).toBe(0o644);
    expect(t.bundle.startsWith(join(state, "trust") + "/")).toBe(true);
    const input = { spec: testSpec(), slug: "tester-trust", stateDir: state, image: "img", env: { plain: {}, secretNames: [] } };
    const argv = runArgv(bottleRunInput(input)).join(" ");
    expect(argv).toContain(`--mount type=bind,source=${t.bundle},target=/etc/ssl/certs/ca-certificates.crt,readonly`);
    expect(argv).toContain(`--mount type=bind,source=${t.ca},target=/usr/local/share/ca-certificates/claude-bottle.crt,readonly`);
    expect(runArgv(bottleRunInput({ ...input, trust: false })).join(" ")).not.toContain("ca-certificates.crt");
  });
});
