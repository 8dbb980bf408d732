import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderSmolfile } from "../../../src/backends/smolmachines/smolfile.ts";
import { fake, fakeImage, makeWorld, type World } from "./helpers.ts";

// The fake must refuse what smolvm refuses (and, as a fake-only guard, any
// networking), or the backend tests above would prove nothing.

let world: World;
let image: string;
let n = 0;

beforeAll(() => {
  world = makeWorld();
  image = fakeImage(world);
});
afterAll(() => world?.cleanup());

function smolfile(text: string): string {
  const p = join(world.root, `Smolfile-${++n}`);
  writeFileSync(p, text);
  return p;
}

function create(name: string, sf: string, extra: string[] = []) {
  return fake(world, ["machine", "create", "--name", name, "-s", sf, "--image", image, ...extra]);
}

describe("Smolfile strictness (crates/smolvm-smolfile/src/lib.rs, deny_unknown_fields)", () => {
  const rejected: [string, string, RegExp][] = [
    ["net = true", "net = true\n", /refuses `net`/],
    ["net = false", "net = false\n", /refuses `net`/],
    ["[network]", '[network]\nallow_hosts = ["example.com"]\n', /refuses `\[network\]`/],
    ["unknown top-level key", 'mounts = ["/a:/b"]\n', /unknown field `mounts`/],
    ["unknown nested key", "[dev]\nbogus = 1\n", /unknown field `bogus` in `dev`/],
    ["unknown secret-ref key", '[secrets]\nX = { from_stor = "y" }\n', /unknown field `from_stor`/],
    ["wrong type: cpus string", 'cpus = "2"\n', /invalid type for `cpus`/],
    ["wrong type: cpus float", "cpus = 2.0\n", /invalid type for `cpus`/],
    ["out of range: cpus u8", "cpus = 256\n", /expected u8/],
    ["wrong type: env not strings", "env = [1]\n", /invalid type for `env\[0\]`/],
    ["wrong type: net not bool", 'net = "yes"\n', /invalid type for `net`/],
    ["TOML syntax", "env = [\n", /TOML parse error/],
  ];
  for (const [what, text, re] of rejected) {
    test(`rejects ${what}`, () => {
      const r = create(`rej-${n + 1}`, smolfile(text));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error: /);
      expect(r.stderr).toMatch(re);
    });
  }

  test("accepts every key our renderer writes, nasty values included", () => {
    const text = renderSmolfile({ env: { A: 'x"y\nz' }, workdir: "/w", cpus: 2, memory: 512, entrypoint: ["sleep"], cmd: ["1"], volumes: [{ host: world.root, guest: "/data" }] });
    const r = create("accepted", smolfile(text));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const st = JSON.parse(fake(world, ["machine", "status", "--name", "accepted", "--json"]).stdout);
    expect(st).toMatchObject({ name: "accepted", state: "created", cpus: 2, memory_mib: 512, network: false, mounts: 1 });
    expect(st.image).toMatch(/^local:[0-9a-f]{64}$/);
  });
});

describe("CLI contract (src/cli/machine.rs, src/main.rs)", () => {
  test("--version prints `smolvm X.Y.Z`", () => {
    expect(fake(world, ["--version"]).stdout).toMatch(/^smolvm \d+\.\d+\.\d+\n$/);
  });

  test("machine names follow validate_vm_name", () => {
    const sf = smolfile("");
    for (const bad of ["-lead", "trail-", "dou--ble", "has.dot", "a".repeat(129)]) {
      const r = create(bad, sf);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error: config operation failed: create machine: machine name/);
    }
  });

  test("create-only flags are usage errors elsewhere (exit 2, lowercase error:)", () => {
    const exec = fake(world, ["machine", "exec", "--name", "x", "--mount-socket", "/a:/b", "--", "true"]);
    expect(exec.code).toBe(2);
    expect(exec.stderr).toMatch(/^error: unexpected argument '--mount-socket' found/);
    expect(fake(world, ["machine", "start", "--name", "x", "--label", "a=b"]).code).toBe(2);
    expect(fake(world, ["machine", "exec", "-n", "x", "--", "true"]).code).toBe(2); // ExecCmd has no -n
  });

  test("create rejects a registry image on a machine with no network, relative socket guest paths, bad labels, duplicates", () => {
    const sf = smolfile("");
    const reg = fake(world, ["machine", "create", "--name", "reg", "-s", sf, "--image", "alpine:3.20"]);
    expect(reg.code).toBe(1);
    expect(reg.stderr).toMatch(/must be pulled from a registry, but this machine has no network/);
    expect(create("rel", sf, ["--mount-socket", "/h.sock:run/x.sock"]).stderr).toMatch(/must be absolute/);
    expect(create("nocolon", sf, ["--mount-socket", "/h.sock"]).stderr).toMatch(/expected HOST_PATH:GUEST_PATH/);
    expect(create("twice", sf, ["--mount-socket", "/a:/run/x", "--mount-socket", "/b:/run/x"]).stderr).toMatch(/mounted more than once/);
    expect(create("lbl", sf, ["--label", "novalue"]).stderr).toMatch(/expected KEY=VALUE/);
    expect(create("dup", sf).code).toBe(0);
    const again = create("dup", sf);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists or is being created/);
  });

  test("state machine: created -> running -> stopped; exec needs running; status of unknown is an error", () => {
    const sf = smolfile("");
    expect(create("sm", sf).code).toBe(0);
    const notRunning = fake(world, ["machine", "exec", "--name", "sm", "--", "true"]);
    expect(notRunning.code).toBe(1);
    expect(notRunning.stderr).toBe("Error: agent operation failed: connect: machine 'sm' is not running. Use 'smolvm machine start --name sm' first.\n");
    expect(fake(world, ["machine", "start", "--name", "sm"]).code).toBe(0);
    expect(fake(world, ["machine", "start", "--name", "sm"]).stdout).toMatch(/already running/);
    expect(JSON.parse(fake(world, ["machine", "status", "--name", "sm", "--json"]).stdout).state).toBe("running");
    const guest = fake(world, ["machine", "exec", "--name", "sm", "--", "sh", "-c", "echo Error: mine >&2; exit 1"]);
    expect(guest.code).toBe(1); // the guest's exit 1, passed through
    expect(fake(world, ["machine", "stop", "--name", "sm"]).code).toBe(0);
    expect(JSON.parse(fake(world, ["machine", "status", "--name", "sm", "--json"]).stdout).state).toBe("stopped");
    const unknown = fake(world, ["machine", "status", "--name", "ghost", "--json"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("Error: config operation failed: machine status: machine 'ghost' not found\n");
    expect(fake(world, ["machine", "start", "--name", "ghost"]).stderr).toBe("Error: vm not found: ghost\n");
  });

  test("delete without --force asks on stdin; with --force it stops and deletes", () => {
    const sf = smolfile("");
    expect(create("del", sf).code).toBe(0);
    expect(fake(world, ["machine", "delete", "--name", "del"], "n\n").stdout).toContain("Cancelled");
    expect(fake(world, ["machine", "status", "--name", "del", "--json"]).code).toBe(0);
    expect(fake(world, ["machine", "start", "--name", "del"]).code).toBe(0);
    expect(fake(world, ["machine", "rm", "--name", "del", "-f"]).code).toBe(0);
    expect(fake(world, ["machine", "status", "--name", "del", "--json"]).code).toBe(1);
  });

  test("a killed VMM reads as stopped (state_probe::resolve_state)", async () => {
    const sf = smolfile("");
    expect(create("killed", sf).code).toBe(0);
    expect(fake(world, ["machine", "start", "--name", "killed"]).code).toBe(0);
    const pid = JSON.parse(fake(world, ["machine", "status", "--name", "killed", "--json"]).stdout).pid as number;
    process.kill(pid, "SIGKILL");
    // The kill is asynchronous: poll with backoff, bounded.
    let state = "";
    for (let delay = 5, t = 0; t < 5000; t += delay, delay *= 2) {
      state = JSON.parse(fake(world, ["machine", "status", "--name", "killed", "--json"]).stdout).state;
      if (state !== "running") break;
      await Bun.sleep(delay);
    }
    expect(state).toBe("stopped");
  });

  test("secret refs: unset host variable fails the exec with env_unset, naming the guest variable only", () => {
    const sf = smolfile("");
    expect(create("sec", sf).code).toBe(0);
    expect(fake(world, ["machine", "start", "--name", "sec"]).code).toBe(0);
    const r = fake(world, ["machine", "exec", "--name", "sec", "--secret-env", "TOKEN=NOT_SET_ANYWHERE_123", "--", "true"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("Error: config operation failed: resolve secret 'TOKEN': env_unset\n");
  });

  test("ls --json prints [] with no machines and labels otherwise", () => {
    const empty = makeWorld();
    try {
      expect(fake(empty, ["machine", "ls", "--json"]).stdout).toBe("[]\n");
    } finally {
      empty.cleanup();
    }
    const sf = smolfile("");
    expect(create("lab", sf, ["--label", "k=v=w"]).code).toBe(0);
    const all = JSON.parse(fake(world, ["machine", "ls", "--json"]).stdout) as { name: string; labels: Record<string, string> }[];
    expect(all.find((m) => m.name === "lab")?.labels).toEqual({ k: "v=w" });
  });
});
