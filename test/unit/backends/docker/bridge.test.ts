import { describe, expect, test } from "bun:test";
import { runArgv, type RunInput } from "../../../../src/backends/docker/args.ts";
import { BRIDGE_SCRIPT, bridgeRunArgv, TOKEN_ENV, volumeCreateArgv } from "../../../../src/backends/docker/bridge.ts";
import { DOOR_HELLO_PREFIX } from "../../../../src/gate/door.ts";

// The bridge door's argv, pure: what the bottle and its bridge container are
// started with (the real engine runs them in test/integration/docker and
// test/integration/launch).

const bottle = (over: Partial<RunInput> = {}): RunInput => ({
  name: "claude-bottle-demo-abcde",
  slug: "demo-abcde",
  image: "claude-bottle/agent:0123456789ab",
  sockDir: "/Users/u/.claude-bottle/state/demo-abcde/sock",
  env: { plain: { HTTP_PROXY: "http://127.0.0.1:3128" }, secretNames: ["API_TOKEN"] },
  resources: {},
  workspace: { mode: "none", path: null },
  trust: { bundle: "/Users/u/.claude-bottle/state/demo-abcde/trust/ca-certificates.crt", ca: "/Users/u/.claude-bottle/state/demo-abcde/trust/claude-bottle.crt" },
  ...over,
});

const pairs = (argv: string[], flag: string) => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));

describe("the bottle behind the bridge door", () => {
  const a = runArgv(bottle({ doorVolume: "claude-bottle-demo-abcde-door" }));
  test("mounts the volume read-only where the socket folder would be, and no host path at all", () => {
    expect(pairs(a, "--mount")).toEqual(["type=volume,source=claude-bottle-demo-abcde-door,target=/run/claude-bottle,readonly"]);
    expect(a.join(" ")).not.toContain("/Users/u");
    expect(pairs(a, "--label")).toContain("claude-bottle.door=bridge");
  });
  test("is as sealed as ever: no network, no capability", () => {
    expect(pairs(a, "--network")).toEqual(["none"]);
    expect(pairs(a, "--cap-drop")).toEqual(["ALL"]);
  });
  test("its relay starts once the bridge's socket is there, then is the same socat", () => {
    const i = a.indexOf("claude-bottle/agent:0123456789ab");
    const cmd = a.slice(i + 1);
    expect(cmd.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(cmd[2]).toContain('until [ -S "$0" ]');
    expect(cmd.slice(3)).toEqual(["/run/claude-bottle/gate.sock", "socat", "TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:/run/claude-bottle/gate.sock"]);
  });
  test("the unix door is unchanged: the socket folder and the trust files, bind-mounted", () => {
    const u = runArgv(bottle());
    expect(pairs(u, "--mount")[0]).toBe("type=bind,source=/Users/u/.claude-bottle/state/demo-abcde/sock,target=/run/claude-bottle,readonly");
    expect(pairs(u, "--mount")).toHaveLength(3);
    expect(pairs(u, "--label")).not.toContain("claude-bottle.door=bridge");
  });
  test("a mount workspace is still bound (it needs the engine's file sharing)", () => {
    const m = runArgv(bottle({ doorVolume: "v", workspace: { mode: "mount", path: "/Users/u/proj" } }));
    expect(pairs(m, "--mount")).toContain("type=bind,source=/Users/u/proj,target=/workspace");
  });
});

describe("the bridge container", () => {
  const conf = { slug: "demo-abcde", image: "claude-bottle/agent:0123456789ab", gate: { host: "127.0.0.1", port: 40123 }, add_host: "host.docker.internal:host-gateway" };
  const a = bridgeRunArgv(conf);
  test("runs our image as node, with no capability, a read-only root and small limits", () => {
    expect(pairs(a, "--name")).toEqual(["claude-bottle-demo-abcde-bridge"]);
    expect(pairs(a, "--user")).toEqual(["node"]);
    expect(a).toContain("--read-only");
    expect(pairs(a, "--cap-drop")).toEqual(["ALL"]);
    expect(pairs(a, "--security-opt")).toEqual(["no-new-privileges"]);
    expect(pairs(a, "--pids-limit")).toEqual(["64"]);
    expect(pairs(a, "--entrypoint")).toEqual(["node"]);
    expect(a).not.toContain("--network"); // the engine's default network: it must reach the gate
  });
  test("carries the labels that down and cleanup find it by, and is never taken for a bottle", () => {
    expect(pairs(a, "--label")).toEqual(["claude-bottle=1", "claude-bottle.slug=demo-abcde", "claude-bottle.role=bridge"]);
    expect(volumeCreateArgv("demo-abcde")).toEqual(["volume", "create", "--label", "claude-bottle=1", "--label", "claude-bottle.slug=demo-abcde", "--label", "claude-bottle.role=door", "claude-bottle-demo-abcde-door"]);
  });
  test("the token by name only; the gate's address plain; the --add-host the plan chose", () => {
    // docker's -e (before the image; node's own -e after it is the script).
    expect(pairs(a.slice(0, a.indexOf(conf.image)), "-e")).toEqual([TOKEN_ENV]);
    expect(a.slice(a.indexOf(conf.image) + 1, a.indexOf(conf.image) + 3)).toEqual(["-e", BRIDGE_SCRIPT]);
    expect(pairs(a, "--add-host")).toEqual(["host.docker.internal:host-gateway"]);
    expect(a.slice(-3)).toEqual(["/run/claude-bottle/gate.sock", "host.docker.internal", "40123"]);
    expect(pairs(a, "--mount")).toEqual(["type=volume,source=claude-bottle-demo-abcde-door,target=/run/claude-bottle"]);
    expect(bridgeRunArgv({ ...conf, add_host: null })).not.toContain("--add-host"); // Docker Desktop, OrbStack
  });
  test("its script speaks the gate's hello (written out: a backend does not import the gate)", () => {
    expect(BRIDGE_SCRIPT).toContain(`"${DOOR_HELLO_PREFIX}" + token + "\\n"`);
    expect(BRIDGE_SCRIPT).toContain(`delete process.env.${TOKEN_ENV}`);
  });
});
