import { describe, expect, test } from "bun:test";
import { chooseDoor } from "../../../src/backends/door.ts";
import { assessEngine, bridgeRoute, endpointIsLocal, parseEngineInfo, type EngineInfo, type HostFacts } from "../../../src/backends/docker/engine.ts";

// The door follows from what the engine says about itself. The engine
// facts below are real: `docker info --format '{{json .}}'` on the project
// machine (the fields we read, verbatim), a second dockerd the door's
// integration test starts in its own mount namespace, and, for the Mac
// engines, the values their users have published (cited per case).

const linuxHost: HostFacts = { platform: "linux", kernel: "6.18.44-fc-v669", rootDirHere: true };
const mac: HostFacts = { platform: "darwin", kernel: "24.5.0", rootDirHere: false };

// docker info on the project machine (Debian docker.io 20.10).
const LOCAL = parseEngineInfo(
  '{"Name":"vm","OperatingSystem":"Debian GNU/Linux 12 (bookworm)","OSType":"linux","KernelVersion":"6.18.44-fc-v669","DockerRootDir":"/var/lib/docker","ServerVersion":"20.10.24+dfsg1","Driver":"overlay2"}',
)!;
// The same dockerd binary started with its own /tmp and --data-root /tmp/data
// (test/integration/door/second-dockerd.test.ts).
const SECOND = parseEngineInfo(
  '{"Name":"vm","OperatingSystem":"Debian GNU/Linux 12 (bookworm)","OSType":"linux","KernelVersion":"6.18.44-fc-v669","DockerRootDir":"/tmp/data","ServerVersion":"20.10.24+dfsg1","Driver":"overlay2"}',
)!;
// Docker Desktop for Mac: "Operating System: Docker Desktop", "Name:
// docker-desktop", a linuxkit kernel (docs.docker.com, `docker info`).
const DESKTOP: EngineInfo = { name: "docker-desktop", operatingSystem: "Docker Desktop", kernelVersion: "6.10.14-linuxkit", osType: "linux", rootDir: "/var/lib/docker" };
// OrbStack, as quoted in orbstack/orbstack#1: "Kernel Version:
// 6.1.23-orbstack-00113-g6614aaccb205-dirty", "Operating System: Alpine
// Linux edge (containerized)".
const ORB: EngineInfo = { name: "orbstack", operatingSystem: "Alpine Linux edge (containerized)", kernelVersion: "6.1.23-orbstack-00113-g6614aaccb205-dirty", osType: "linux", rootDir: "/var/lib/docker" };
// colima: the VM's host name is the profile id (colima's
// environment/vm/lima/yaml.go), its OS Ubuntu.
const COLIMA: EngineInfo = { name: "colima", operatingSystem: "Ubuntu 24.04.4 LTS", kernelVersion: "6.8.0-50-generic", osType: "linux", rootDir: "/var/lib/docker" };

describe("the engine", () => {
  test("the local dockerd shares this machine: the unix door", () => {
    const a = assessEngine(LOCAL, "unix:///var/run/docker.sock", linuxHost);
    expect(a).toMatchObject({ kind: "here", sharesHost: true });
    expect(chooseDoor({ backend: "docker", engine: a })).toMatchObject({ kind: "unix", source: "auto" });
  });

  test("a dockerd whose data root is not on our filesystem cannot see our files: the bridge door", () => {
    const a = assessEngine(SECOND, "unix:///var/tmp/cb-dind/docker.sock", { ...linuxHost, rootDirHere: false });
    expect(a).toMatchObject({ kind: "here", sharesHost: false });
    expect(a.why).toContain("/tmp/data is not on this machine's filesystem");
    expect(chooseDoor({ backend: "docker", engine: a }).kind).toBe("bridge");
    expect(bridgeRoute(a.kind)).toEqual({ listen: { kind: "engine-bridge" }, addHost: "<bridge>", documented: true });
  });

  test("a kernel other than ours is a VM (Docker Desktop for Linux, a lima VM on Linux)", () => {
    const a = assessEngine({ ...LOCAL, kernelVersion: "6.6.12-linuxkit" }, "unix:///home/u/.docker/desktop/docker.sock", linuxHost);
    expect(a).toMatchObject({ kind: "vm", sharesHost: false });
  });

  test("the Mac engines: bridge door, and how each routes host.docker.internal", () => {
    for (const [info, kind, addHost] of [
      [DESKTOP, "docker-desktop", null],
      [ORB, "orbstack", null],
      [COLIMA, "colima", "host-gateway"],
      [{ ...COLIMA, name: "lima-default", operatingSystem: "Ubuntu 24.04 LTS" }, "lima", "192.168.5.2"],
      [{ ...COLIMA, name: "somebox" }, "vm", "host-gateway"],
    ] as const) {
      const a = assessEngine(info, "unix:///Users/u/.docker/run/docker.sock", mac);
      expect(a.kind).toBe(kind);
      expect(a.sharesHost).toBe(false);
      expect(chooseDoor({ backend: "docker", engine: a }).kind).toBe("bridge");
      const r = bridgeRoute(a.kind);
      expect(r.listen).toEqual({ kind: "loopback" });
      expect(r.addHost).toBe(addHost);
      expect(r.documented).toBe(kind !== "vm");
    }
  });

  test("Docker Desktop is recognised on Linux too, before the kernel check", () => {
    expect(assessEngine(DESKTOP, "unix:///home/u/.docker/desktop/docker.sock", linuxHost).kind).toBe("docker-desktop");
  });

  test("an engine on another machine", () => {
    for (const ep of ["ssh://builder@ci-box", "tcp://10.0.0.5:2376"]) {
      const a = assessEngine(LOCAL, ep, linuxHost);
      expect(a.kind).toBe("remote");
      expect(a.sharesHost).toBe(false);
    }
  });

  test("endpoints on this machine", () => {
    expect(endpointIsLocal("unix:///var/run/docker.sock")).toBe(true);
    expect(endpointIsLocal("npipe:////./pipe/docker_engine")).toBe(true);
    expect(endpointIsLocal("tcp://127.0.0.1:2375")).toBe(true);
    expect(endpointIsLocal("tcp://localhost:2375")).toBe(true);
    expect(endpointIsLocal("tcp://[::1]:2375")).toBe(true);
    expect(endpointIsLocal("tcp://127.0.0.1.evil.example:2375")).toBe(false);
    expect(endpointIsLocal("tcp://192.168.1.2:2375")).toBe(false);
    expect(endpointIsLocal("ssh://localhost")).toBe(false); // another user's engine, maybe; not ours to assume
  });

  test("docker info that is not JSON", () => {
    expect(parseEngineInfo("Client: ...")).toBeNull();
  });
});

describe("forcing a door", () => {
  const vm = assessEngine(DESKTOP, "unix:///x", mac);
  const here = assessEngine(LOCAL, "unix:///var/run/docker.sock", linuxHost);
  test("--door wins over the variable, the variable over auto; auto undoes the variable", () => {
    expect(chooseDoor({ flag: "bridge", envVar: "unix", backend: "docker", engine: here })).toMatchObject({ kind: "bridge", source: "flag" });
    expect(chooseDoor({ envVar: "bridge", backend: "docker", engine: here })).toMatchObject({ kind: "bridge", source: "env", warning: null });
    expect(chooseDoor({ flag: "auto", envVar: "bridge", backend: "docker", engine: here })).toMatchObject({ kind: "unix", source: "auto" });
    expect(chooseDoor({ envVar: " Bridge ", backend: "docker", engine: here }).kind).toBe("bridge");
  });
  test("the unix door forced on a VM engine is allowed, with a warning that it cannot work", () => {
    const d = chooseDoor({ flag: "unix", backend: "docker", engine: vm });
    expect(d.kind).toBe("unix");
    expect(d.warning).toContain("--door unix with Docker Desktop");
  });
  test("unknown values and the bridge door on smolvm are errors naming the setting", () => {
    expect(() => chooseDoor({ flag: "tcp", backend: "docker", engine: here })).toThrow("--door: unknown door 'tcp'");
    expect(() => chooseDoor({ envVar: "tunnel", backend: "docker", engine: here })).toThrow("CLAUDE_BOTTLE_DOOR: unknown door");
    expect(() => chooseDoor({ flag: "bridge", backend: "smolmachines", engine: null })).toThrow("the bridge door is for the docker backend");
    expect(chooseDoor({ backend: "smolmachines", engine: null }).kind).toBe("unix");
  });
});
