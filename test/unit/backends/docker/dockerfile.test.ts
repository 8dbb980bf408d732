import { describe, expect, test } from "bun:test";
import { REQUIRED_TOOLS, renderDockerfile } from "../../../../src/backends/docker/dockerfile.ts";
import { CLAUDE_CODE_PIN, CLAUDE_CODE_VERSION } from "../../../../src/backends/docker/constants.ts";
import { agentPackageChoice, buildStep, imageHash, imageTag, platformPackage, resolveBaseImage } from "../../../../src/backends/docker/image-plan.ts";

describe("renderDockerfile", () => {
  const withAgent = renderDockerfile({ base: "local/base:1", agentPackage: "claude-code.tgz" });
  const without = renderDockerfile({ base: "local/base:1", agentPackage: null });

  test("starts from the given base", () => {
    expect(withAgent.split("\n").find((l) => l.startsWith("FROM "))).toBe("FROM local/base:1");
  });

  test("installs only missing tools: each is checked by command first", () => {
    for (const [cmd, pkg] of REQUIRED_TOOLS) expect(without).toContain(`command -v ${cmd} >/dev/null 2>&1 || pkgs="$pkgs ${pkg}"`);
    expect(without).toMatch(/if \[ -n "\$pkgs" \]; then[^]*apt-get install -y --no-install-recommends \$pkgs/);
    for (const pkg of ["git", "curl", "socat", "dnsutils", "iproute2", "ca-certificates", "nodejs"]) expect(REQUIRED_TOOLS.map((t) => t[1])).toContain(pkg);
  });

  test("creates the node user with home /home/node only when missing", () => {
    expect(without).toContain("if ! id -u node >/dev/null 2>&1; then");
    expect(without).toContain("useradd --create-home --home-dir /home/node");
    expect(without).toMatch(/USER node\n/);
  });

  test("Claude Code comes from the build context, unpacked by ADD, and is checked to run", () => {
    expect(withAgent).toContain("ADD claude-code.tgz /opt/claude-code/");
    expect(withAgent).toContain("ln -sf /opt/claude-code/package/claude /usr/local/bin/claude");
    expect(withAgent).toContain("claude --version");
    expect(withAgent).not.toMatch(/npm (install|i) /);
    expect(without).not.toContain("claude-code");
  });

  test("the relay is the default command", () => {
    expect(without).toContain('CMD ["socat","TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr","UNIX-CONNECT:/run/claude-bottle/gate.sock"]');
  });

  test("refuses a base reference that could inject Dockerfile lines", () => {
    expect(() => renderDockerfile({ base: "x\nRUN evil", agentPackage: null })).toThrow();
    expect(() => renderDockerfile({ base: "", agentPackage: null })).toThrow();
  });
});

describe("image plan", () => {
  test("the pin is an exact version", () => {
    expect(CLAUDE_CODE_PIN).toMatch(/^@anthropic-ai\/claude-code@\d+\.\d+\.\d+$/);
    expect(CLAUDE_CODE_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test("base image: bottle image > CLAUDE_BOTTLE_BASE_IMAGE > default", () => {
    expect(resolveBaseImage("a:1", { CLAUDE_BOTTLE_BASE_IMAGE: "b:1" })).toBe("a:1");
    expect(resolveBaseImage(undefined, { CLAUDE_BOTTLE_BASE_IMAGE: "b:1" })).toBe("b:1");
    expect(resolveBaseImage(undefined, {})).toBe("node:22-bookworm-slim");
  });

  test("agent package: pinned by default, none only when asked, a path to a tarball", () => {
    expect(agentPackageChoice({})).toEqual({ kind: "pinned" });
    expect(agentPackageChoice({ CLAUDE_BOTTLE_AGENT_PACKAGE: "none" })).toEqual({ kind: "none" });
    expect(agentPackageChoice({ CLAUDE_BOTTLE_AGENT_PACKAGE: "/x/cc.tgz" })).toEqual({ kind: "file", path: "/x/cc.tgz" });
    expect(() => agentPackageChoice({ CLAUDE_BOTTLE_AGENT_PACKAGE: "latest" })).toThrow(/CLAUDE_BOTTLE_AGENT_PACKAGE/);
  });

  test("platform package from the image architecture", () => {
    expect(platformPackage("amd64")).toBe("@anthropic-ai/claude-code-linux-x64");
    expect(platformPackage("arm64")).toBe("@anthropic-ai/claude-code-linux-arm64");
    expect(() => platformPackage("s390x")).toThrow(/s390x/);
  });

  test("the hash changes with every input and not with context order", () => {
    const base = { dockerfile: "FROM a", baseId: "sha256:1", agentVersion: "1.0.0", context: [{ name: "a", sha256: "1" }, { name: "b", sha256: "2" }] };
    const h = imageHash(base);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(imageHash({ ...base, context: [...base.context].reverse() })).toBe(h);
    expect(imageHash({ ...base, dockerfile: "FROM b" })).not.toBe(h);
    expect(imageHash({ ...base, baseId: "sha256:2" })).not.toBe(h);
    expect(imageHash({ ...base, agentVersion: null })).not.toBe(h);
    expect(imageHash({ ...base, context: [{ name: "a", sha256: "9" }, { name: "b", sha256: "2" }] })).not.toBe(h);
    expect(imageTag(h)).toBe(`claude-bottle/agent:${h.slice(0, 12)}`);
  });

  test("build progress lines of both builders", () => {
    expect(buildStep("Step 3/9 : RUN set -e")).toEqual({ n: 3, of: 9, what: "RUN set -e" });
    expect(buildStep("#7 [3/6] RUN ln -sf x")).toEqual({ n: 3, of: 6, what: "RUN ln -sf x" });
    expect(buildStep(" ---> Running in 1234")).toBeNull();
  });
});
