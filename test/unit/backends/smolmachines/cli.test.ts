import { describe, expect, test } from "bun:test";
import { createArgv, deleteArgv, execArgv, lsArgv, machineNameProblem, startArgv, statusArgv, stopArgv } from "../../../../src/backends/smolmachines/cli.ts";
import { machineName } from "../../../../src/backends/smolmachines/constants.ts";

describe("argv builders", () => {
  test("create: name, smolfile, image, mount-socket, sorted labels; no workload, no network flags", () => {
    const argv = createArgv({
      name: "claude-bottle-dev-ab12c",
      smolfile: "/s/Smolfile",
      image: "/c/agent.tar",
      mountSockets: [{ host: "/s/sock/gate.sock", guest: "/run/claude-bottle/gate.sock" }],
      labels: { "claude-bottle.slug": "dev-ab12c", "claude-bottle": "1" },
    });
    expect(argv).toEqual([
      "machine", "create", "--name", "claude-bottle-dev-ab12c", "--smolfile", "/s/Smolfile", "--image", "/c/agent.tar",
      "--mount-socket", "/s/sock/gate.sock:/run/claude-bottle/gate.sock",
      "--label", "claude-bottle=1", "--label", "claude-bottle.slug=dev-ab12c",
    ]);
    expect(argv.join(" ")).not.toMatch(/--net|--allow|--dns|--network|--outbound|--secret/);
    expect(argv).not.toContain("--");
  });

  test("create rejects guest paths smolvm rejects", () => {
    const base = { name: "a", smolfile: "/s", image: "/i", labels: {} };
    expect(() => createArgv({ ...base, mountSockets: [{ host: "/h", guest: "rel/sock" }] })).toThrow(/absolute/);
    expect(() => createArgv({ ...base, mountSockets: [{ host: "/h", guest: "/a;b" }] })).toThrow();
    expect(() => createArgv({ ...base, mountSockets: [{ host: "/h:x", guest: "/g" }] })).toThrow(/':'/);
    expect(() => createArgv({ ...base, mountSockets: [], labels: { "a=b": "c" } })).toThrow(/label/);
  });

  test("exec: --name (ExecCmd has no -n), -i -t -w -e sorted, --secret-env refs, then -- argv", () => {
    const argv = execArgv({
      name: "m1",
      argv: ["claude", "--flag", "--", "x y"],
      interactive: true,
      tty: true,
      workdir: "/workspace",
      env: { B: "2", A: "1" },
      secretEnv: [{ guest: "API_KEY", host: "API_KEY" }],
    });
    expect(argv).toEqual(["machine", "exec", "--name", "m1", "-i", "-t", "-w", "/workspace", "-e", "A=1", "-e", "B=2", "--secret-env", "API_KEY=API_KEY", "--", "claude", "--flag", "--", "x y"]);
    expect(() => execArgv({ name: "m1", argv: [] })).toThrow();
    expect(() => execArgv({ name: "m1", argv: ["x"], secretEnv: [{ guest: "A", host: "B=C" }] })).toThrow();
  });

  test("lifecycle builders", () => {
    expect(startArgv("m")).toEqual(["machine", "start", "--name", "m"]);
    expect(stopArgv("m")).toEqual(["machine", "stop", "--name", "m"]);
    expect(deleteArgv("m")).toEqual(["machine", "delete", "--name", "m", "--force"]);
    expect(statusArgv("m")).toEqual(["machine", "status", "--name", "m", "--json"]);
    expect(lsArgv()).toEqual(["machine", "ls", "--json"]);
  });
});

describe("machine names (src/data/mod.rs::validate_vm_name)", () => {
  test("our names are valid", () => {
    expect(machineNameProblem(machineName("dev-ab12c"))).toBeNull();
    expect(machineNameProblem(machineName("a-00000"))).toBeNull();
  });
  test("invalid names", () => {
    expect(machineNameProblem("")).toMatch(/empty/);
    expect(machineNameProblem("-a")).toMatch(/start/);
    expect(machineNameProblem("a-")).toMatch(/hyphen/);
    expect(machineNameProblem("a--b")).toMatch(/consecutive/);
    expect(machineNameProblem("a.b")).toMatch(/invalid character/);
    expect(machineNameProblem("a".repeat(129))).toMatch(/too long/);
    expect(machineNameProblem("a".repeat(128))).toBeNull();
    expect(() => startArgv("bad name")).toThrow();
  });
});
