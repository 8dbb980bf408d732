import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliSocket, containerStateOnSocket, engineInfoOnSocket, inspectImageOnSocket, pingSocket } from "../../../../src/backends/docker/api.ts";
import { probeBackendAsync, probeDocker } from "../../../../src/backends/select.ts";
import { dockerTest } from "../../../helpers/docker.ts";

const dir = mkdtempSync(join(tmpdir(), "cb-ping-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the socket the docker CLI would use", () => {
  const none = () => null;
  test("the default socket when nothing chooses another", () => {
    expect(cliSocket({ HOME: "/h" }, none)).toBe("/var/run/docker.sock");
    expect(cliSocket({ HOME: "/h" }, () => '{"auths":{},"currentContext":"default"}')).toBe("/var/run/docker.sock");
  });
  test("DOCKER_HOST: a unix socket is used as it is; anything else is the CLI's business", () => {
    expect(cliSocket({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" }, none)).toBe("/run/user/1000/docker.sock");
    expect(cliSocket({ DOCKER_HOST: "tcp://10.0.0.1:2376" }, none)).toBeNull();
    expect(cliSocket({ DOCKER_HOST: "ssh://me@host" }, none)).toBeNull();
    expect(cliSocket({ DOCKER_HOST: "unix://" }, none)).toBeNull();
  });
  test("a context, chosen by variable or in the CLI's config, leaves it to the CLI", () => {
    expect(cliSocket({ DOCKER_CONTEXT: "desktop-linux" }, none)).toBeNull();
    expect(cliSocket({ HOME: "/h" }, () => '{"currentContext":"rootless"}')).toBeNull();
    expect(cliSocket({ HOME: "/h" }, () => "{not json")).toBeNull();
  });
  test("DOCKER_CONFIG names the config folder", () => {
    const seen: string[] = [];
    cliSocket({ HOME: "/h", DOCKER_CONFIG: "/cfg" }, (f) => (seen.push(f), null));
    cliSocket({ HOME: "/h" }, (f) => (seen.push(f), null));
    expect(seen).toEqual(["/cfg/config.json", "/h/.docker/config.json"]);
  });
});

describe("the engine's facts on its socket", () => {
  test("GET /info is read like `docker info`; an error answer or no socket is null (the CLI is asked)", async () => {
    const ok = join(dir, "info.sock");
    const bad = join(dir, "info-bad.sock");
    const seen: string[] = [];
    // The fields as the project machine's engine (Debian docker.io 20.10) answers them.
    const body = '{"ID":"LXRG","Name":"vm","OperatingSystem":"Debian GNU/Linux 12 (bookworm)","OSType":"linux","KernelVersion":"6.18.44-fc-v669","DockerRootDir":"/var/lib/docker","ServerVersion":"20.10.24+dfsg1"}';
    const s1 = Bun.serve({ unix: ok, fetch: (r) => (seen.push(new URL(r.url).pathname), new Response(body)) });
    const s2 = Bun.serve({ unix: bad, fetch: () => new Response("nope", { status: 500 }) });
    try {
      expect(await engineInfoOnSocket(ok)).toEqual({ name: "vm", operatingSystem: "Debian GNU/Linux 12 (bookworm)", osType: "linux", kernelVersion: "6.18.44-fc-v669", rootDir: "/var/lib/docker" });
      expect(seen).toEqual(["/info"]);
      expect(await engineInfoOnSocket(bad)).toBeNull();
      expect(await engineInfoOnSocket(join(dir, "absent.sock"))).toBeNull();
    } finally {
      s1.stop(true);
      s2.stop(true);
    }
  });
});

describe("a container's state on the socket (the bridge door's keeper)", () => {
  test("running, gone (404: null), or unknown (an error: undefined, the CLI is asked)", async () => {
    const sock = join(dir, "state.sock");
    const seen: string[] = [];
    const s = Bun.serve({
      unix: sock,
      fetch: (r) => {
        const path = new URL(r.url).pathname;
        seen.push(path);
        if (path === "/containers/claude-bottle-a-bridge/json") return Response.json({ Name: "/claude-bottle-a-bridge", State: { Status: "running", Running: true } });
        if (path === "/containers/claude-bottle-b-bridge/json") return Response.json({ message: "No such container: claude-bottle-b-bridge" }, { status: 404 });
        return new Response("boom", { status: 500 });
      },
    });
    try {
      expect(await containerStateOnSocket(sock, "claude-bottle-a-bridge")).toBe("running");
      expect(await containerStateOnSocket(sock, "claude-bottle-b-bridge")).toBeNull();
      expect(await containerStateOnSocket(sock, "claude-bottle-c-bridge")).toBeUndefined();
      expect(await containerStateOnSocket(join(dir, "absent.sock"), "x")).toBeUndefined();
      expect(seen[0]).toBe("/containers/claude-bottle-a-bridge/json");
    } finally {
      s.stop(true);
    }
  });
});

describe("pinging a socket", () => {
  test("OK from /_ping is up; another answer, no socket or no answer is not", async () => {
    const ok = join(dir, "ok.sock");
    const bad = join(dir, "bad.sock");
    const mute = join(dir, "mute.sock");
    const seen: string[] = [];
    const s1 = Bun.serve({ unix: ok, fetch: (r) => (seen.push(new URL(r.url).pathname), new Response("OK")) });
    const s2 = Bun.serve({ unix: bad, fetch: () => new Response("nope", { status: 500 }) });
    const s3 = Bun.listen({ unix: mute, socket: { data() {} } });
    chmodSync(ok, 0o600);
    try {
      expect(await pingSocket(ok)).toBe(true);
      expect(seen).toEqual(["/_ping"]);
      expect(await pingSocket(bad)).toBe(false);
      expect(await pingSocket(join(dir, "absent.sock"))).toBe(false);
      const t0 = Date.now();
      expect(await pingSocket(mute, 300)).toBe(false);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      s1.stop(true);
      s2.stop(true);
      s3.stop(true);
    }
  });
});

describe("inspecting an image on the socket", () => {
  test("id, architecture and labels; a missing image is null; anything else is undefined (ask the CLI)", async () => {
    const sock = join(dir, "engine.sock");
    const asked: string[] = [];
    const s = Bun.serve({
      unix: sock,
      fetch(r) {
        const path = new URL(r.url).pathname;
        asked.push(decodeURIComponent(path));
        if (path.includes("missing")) return Response.json({ message: "No such image" }, { status: 404 });
        if (path.includes("broken")) return new Response("oops", { status: 500 });
        if (path.includes("imported")) return Response.json({ Id: "sha256:b", Architecture: "arm64", Config: { Labels: null } });
        return Response.json({ Id: "sha256:a", Architecture: "amd64", Config: { Labels: { "claude-bottle.image-hash": "h1" } } });
      },
    });
    try {
      expect(await inspectImageOnSocket(sock, "claude-bottle/agent:abc")).toEqual({ id: "sha256:a", arch: "amd64", labels: { "claude-bottle.image-hash": "h1" } });
      expect(asked).toEqual(["/images/claude-bottle/agent:abc/json"]);
      expect(await inspectImageOnSocket(sock, "imported:1")).toEqual({ id: "sha256:b", arch: "arm64", labels: {} });
      expect(await inspectImageOnSocket(sock, "missing:1")).toBeNull();
      expect(await inspectImageOnSocket(sock, "broken:1")).toBeUndefined();
      expect(await inspectImageOnSocket(join(dir, "absent.sock"), "x")).toBeUndefined();
    } finally {
      s.stop(true);
    }
  });
});

dockerTest("probeBackendAsync: the engine answers on its socket; a wrong socket falls back to the CLI, which has the last word", async () => {
  // On the socket: GET /info, the same facts `docker info` gives (the door
  // is chosen from them), read without running the CLI.
  const fast = await probeBackendAsync("docker", process.env);
  expect(fast).toMatchObject({ usable: true, problems: [] });
  expect(fast.engine).toEqual(probeDocker(process.env).engine);
  expect(fast.engine?.rootDir).not.toBe("");
  const wrong = { ...process.env, DOCKER_HOST: `unix://${join(dir, "absent.sock")}` };
  const r = await probeBackendAsync("docker", wrong);
  expect(r.usable).toBe(false);
  // Seen as a user with DOCKER_HOST pointing nowhere: the line must say
  // which engine was asked and that the variable chose it.
  expect(r.problems[0]!.what).toBe(`docker daemon at unix://${join(dir, "absent.sock")} (DOCKER_HOST) is not reachable`);
  expect(r.problems[0]!.fix).toContain("DOCKER_HOST");
  expect(await probeBackendAsync("docker", { ...process.env, PATH: dir })).toMatchObject({ usable: false, problems: [{ what: "docker is not installed" }] });
});
