import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bottle, BottleStart, Captured, ExecOptions, RunInput } from "../../../src/backends/types.ts";
import { createCa } from "../../../src/gate/tls/ca.ts";
import { provisionBottle, stageHomeTar } from "../../../src/provision/provision.ts";
import { NEEDS_TRUST } from "../../../src/provision/scripts.ts";
import { testSpec } from "../launch/fixtures/spec.ts";

// What provisioning sends into a bottle, by what its start already did
// (Bottle.started): every exec it skips is a round trip through the
// engine. The bottle here records its calls; the steps themselves run in a
// real sh in scripts.test.ts, in real containers in test/integration/docker.

const root = mkdtempSync(join(tmpdir(), "cb-provision-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ca = await createCa("provision-unit");

interface Call {
  argv: string[];
  user?: string;
  input: string | null; // a tar's member list, or the text given
}

async function describeInput(input: RunInput | undefined): Promise<string | null> {
  if (input === undefined) return null;
  if (typeof input === "string") return input;
  const bytes = input instanceof ReadableStream ? new Uint8Array(await new Response(input).arrayBuffer()) : input;
  const list = Bun.spawnSync(["tar", "-tf", "-"], { stdin: bytes, stdout: "pipe" });
  return `tar: ${list.stdout.toString().trim().split("\n").sort().join(" ")}`;
}

function recordingBottle(started: BottleStart | undefined, codes: number[] = []): Bottle & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    slug: "tester-abcde",
    started,
    calls,
    async exec() {
      throw new Error("provisioning never attaches");
    },
    async run(argv: string[], opts: ExecOptions & { input?: RunInput } = {}): Promise<Captured> {
      calls.push({ argv, user: opts.user, input: await describeInput(opts.input) });
      return { code: codes.shift() ?? 0, stdout: "", stderr: "" };
    },
    async stop() {},
    async remove() {},
  };
}

function stateDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, "ca"), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, "ca", "ca.crt"), ca.certPem);
  return dir;
}

const spec = testSpec({ prompt: "Be careful.\n" });
const input = (dir: string) => ({ spec, stateDir: dir, hostEnv: {}, progress: () => {} });
// The home step's last argument: "1" unpacks a tar from stdin, "0" does not.
const tarFlag = (c: Call) => c.argv.at(-1);

describe("provisionBottle", () => {
  test("a bottle that started with its home, its trust and its relay seen listening: nothing to send", async () => {
    const dir = stateDir("all");
    const b = recordingBottle({ home: true, trust: true, relay: true });
    await provisionBottle(b, { ...input(dir), homeTar: await stageHomeTar(input(dir)) });
    expect(b.calls).toEqual([]);
  });

  test("home in place but the relay not seen: one exec that only waits and checks, with no tar", async () => {
    const dir = stateDir("norelay");
    const b = recordingBottle({ home: true, trust: true, relay: false });
    await provisionBottle(b, { ...input(dir), homeTar: await stageHomeTar(input(dir)) });
    expect(b.calls).toHaveLength(1);
    expect(tarFlag(b.calls[0]!)).toBe("0");
    expect(b.calls[0]!.input).toBeNull();
    expect(b.calls[0]!.user).toBe("node");
  });

  test("a bottle that started bare: the home's tar in one exec, and the root step when the store lacks the CA", async () => {
    const dir = stateDir("bare");
    const b = recordingBottle(undefined, [NEEDS_TRUST, 0]);
    await provisionBottle(b, input(dir));
    expect(b.calls).toHaveLength(2);
    expect(tarFlag(b.calls[0]!)).toBe("1");
    expect(b.calls[0]!.input).toBe("tar: .claude-bottle/ .claude-bottle/prompt.md .claude.json .claude/ .claude/settings.json .gitconfig");
    expect(b.calls[1]!.user).toBe("root");
    expect(b.calls[1]!.input).toBe(ca.certPem);
  });

  test("the staged tar is the bottle's to read (0644), in the state dir", async () => {
    const dir = stateDir("staged");
    const tar = await stageHomeTar(input(dir));
    expect(tar).toBe(join(dir, "home.tar"));
    expect(statSync(tar).mode & 0o777).toBe(0o644);
  });
});
