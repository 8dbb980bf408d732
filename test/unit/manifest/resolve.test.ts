import { describe, expect, test } from "bun:test";
import { buildCatalog, type RawFile, type RawManifests } from "../../../src/manifest/catalog.ts";
import { chooseWorkspace, resolveSpec, type WorkspaceFacts } from "../../../src/manifest/resolve.ts";
import { claudeCodeRoutes } from "../../../src/defaults/claude.ts";

const bottle = (name: string, yaml: string): RawFile => ({ name, path: `/h/bottles/${name}.md`, bytes: `---\n${yaml}\n---\n` });
const agent = (name: string, yaml: string, body = "", dir = "/h/agents"): RawFile => ({ name, path: `${dir}/${name}.md`, bytes: `---\n${yaml}\n---\n${body}` });
const ws: WorkspaceFacts = { cwd: "/w/sub", gitRoot: "/w", mountFlag: false };

function cat(raw: Partial<RawManifests>, env: Record<string, string> = {}) {
  return buildCatalog({ homeBottles: [], homeAgents: [], repoAgents: [], ...raw }, env);
}

describe("embedded defaults", () => {
  test("`up` with no files: default agent in the claude bottle with Claude Code's hosts", () => {
    const spec = resolveSpec(cat({}), "default", {}, ws);
    expect(spec.agent).toBe("default");
    expect(spec.bottle).toBe("claude");
    expect(spec.sources).toEqual({ agent: "<embedded>", bottle: "<embedded>" });
    expect(spec.egress.map((r) => r.host)).toEqual([
      "api.anthropic.com",
      "mcp-proxy.anthropic.com",
      "statsig.anthropic.com",
      "sentry.io",
      "claude.ai",
      "platform.claude.com",
      "downloads.claude.ai",
      "raw.githubusercontent.com",
    ]);
    expect(spec.egress.find((r) => r.host === "api.anthropic.com")?.dlp).toBe("off");
    expect(spec.egress.filter((r) => r.dlp === "off").length).toBe(1);
    expect(spec.egress.every((r) => r.auth === undefined)).toBe(true);
    expect(spec.env).toEqual([]);
  });
  test("OAuth token on the host: Bearer injection for api and mcp-proxy", () => {
    const env = { CLAUDE_CODE_OAUTH_TOKEN: "x", ANTHROPIC_API_KEY: "y" };
    const spec = resolveSpec(cat({}, env), "default", env, ws);
    const auth = { header: "Authorization", scheme: "Bearer", token_ref: "CLAUDE_CODE_OAUTH_TOKEN" };
    expect(spec.egress.find((r) => r.host === "api.anthropic.com")?.auth).toEqual(auth);
    expect(spec.egress.find((r) => r.host === "mcp-proxy.anthropic.com")?.auth).toEqual(auth);
    expect(spec.egress.filter((r) => r.auth).length).toBe(2);
  });
  test("API key only: x-api-key with no scheme", () => {
    const env = { ANTHROPIC_API_KEY: "y" };
    const spec = resolveSpec(cat({}, env), "default", env, ws);
    expect(spec.egress.find((r) => r.host === "api.anthropic.com")?.auth).toEqual({ header: "x-api-key", scheme: "", token_ref: "ANTHROPIC_API_KEY" });
  });
  test("Claude Code routes are merged into a bottle that does not extend claude; user routes for the same host win", () => {
    const c = cat({
      homeBottles: [bottle("own", "egress:\n  - host: API.anthropic.com\n    methods: [POST]\n  - host: api.github.com")],
      homeAgents: [agent("a", "bottle: own")],
    });
    const spec = resolveSpec(c, "a", {}, ws);
    expect(spec.egress[0]).toMatchObject({ host: "API.anthropic.com", methods: ["POST"], dlp: "on" });
    expect(spec.egress[1]!.host).toBe("api.github.com");
    expect(spec.egress.slice(2).map((r) => r.host)).toEqual(claudeCodeRoutes({}).slice(1).map((r) => r.host));
  });
  test("a home default agent replaces the embedded one", () => {
    const c = cat({ homeAgents: [agent("default", "bottle: claude", "Mine.")] });
    const spec = resolveSpec(c, "default", {}, ws);
    expect(spec.prompt).toBe("Mine.");
    expect(spec.sources.agent).toBe("/h/agents/default.md");
  });
});

describe("agents and bottles", () => {
  test("a full spec from files", () => {
    const c = cat({
      homeBottles: [bottle("dev", "extends: claude\nenv: {A: lit, B: '${HB}', C: '?ask'}\ngit:\n  - name: p\n    url: git@github.com:x/p.git\nimage: img:1\nsupervise: true\nresources: {cpus: 2}")],
      homeAgents: [agent("coder", "bottle: dev\nskills: [s1, s2]\nworkspace: mount", "\nPrompt body.\n")],
    });
    const spec = resolveSpec(c, "coder", {}, ws);
    expect(spec).toMatchObject({
      agent: "coder",
      bottle: "dev",
      sources: { agent: "/h/agents/coder.md", bottle: "/h/bottles/dev.md" },
      prompt: "Prompt body.",
      env: [
        { name: "A", kind: "literal", value: "lit" },
        { name: "B", kind: "host", hostVar: "HB" },
        { name: "C", kind: "prompt", prompt: "ask" },
      ],
      skills: ["s1", "s2"],
      image: "img:1",
      supervise: true,
      resources: { cpus: 2 },
      workspace: { mode: "mount", path: "/w" },
    });
    expect(spec.git[0]).toMatchObject({ name: "p", url: "git@github.com:x/p.git", allow_force: false });
  });
  test("an unknown agent lists the agents that exist", () => {
    const c = cat({ homeAgents: [agent("coder", "bottle: claude")] });
    expect(() => resolveSpec(c, "nope", {}, ws)).toThrow(
      "agent 'nope' does not exist; agents: coder, default (add one in ~/.claude-bottle/agents/nope.md)",
    );
  });
  test("an agent naming a missing bottle lists the bottles that exist", () => {
    const c = cat({ homeBottles: [bottle("dev", "")], homeAgents: [agent("coder", "bottle: prod")] });
    expect(() => resolveSpec(c, "coder", {}, ws)).toThrow(
      "agent 'coder' (/h/agents/coder.md) uses bottle 'prod', which does not exist; bottles: claude, dev",
    );
  });
  test("a repo agent with the name of a home agent names both files", () => {
    expect(() =>
      cat({ homeAgents: [agent("coder", "bottle: claude")], repoAgents: [agent("coder", "bottle: claude", "", "/r/.claude-bottle/agents")] }),
    ).toThrow("agent 'coder' is defined twice: /h/agents/coder.md and /r/.claude-bottle/agents/coder.md; rename or remove one of them");
  });
});

describe("checks that need the whole spec", () => {
  const run = (yaml: string, env: Record<string, string> = {}) => () =>
    resolveSpec(cat({ homeBottles: [bottle("dev", yaml)], homeAgents: [agent("a", "bottle: dev")] }, env), "a", env, ws);
  test("env may not set the proxy or CA variables", () => {
    expect(run("env: {HTTPS_PROXY: x}")).toThrow("env HTTPS_PROXY (/h/bottles/dev.md) is set by claude-bottle itself (proxy and CA settings); remove it from the bottle");
  });
  test("env may not carry an injected credential, by name or by copy", () => {
    const route = "egress:\n  - host: api.github.com\n    auth: {token_ref: GH}\n";
    expect(run(route + "env: {GH: '${GH}'}")).toThrow(
      "env GH (/h/bottles/dev.md) is the credential injected for api.github.com; remove it from env: the bottle gets a placeholder and the gate adds the real value on the wire",
    );
    expect(run(route + "env: {OTHER: '${GH}'}")).toThrow(
      "env OTHER (/h/bottles/dev.md) copies ${GH}, the credential injected for api.github.com; remove it: that secret must stay on the host",
    );
    expect(run("env: {X: '${CLAUDE_CODE_OAUTH_TOKEN}'}", { CLAUDE_CODE_OAUTH_TOKEN: "t" })).toThrow("the credential injected for api.anthropic.com");
  });
  test("git upstream names are unique; URLs carry no password", () => {
    expect(run("git:\n  - {name: p, url: a}\n  - {name: p, url: b}")).toThrow("/h/bottles/dev.md: git[1].name: 'p' is used twice; each upstream needs its own name");
    expect(run("git:\n  - {name: p, url: 'https://me:hunter2@example.com/p.git'}")).toThrow(
      "/h/bottles/dev.md: git[0].url contains a password; put the token in a host variable and name it in token_ref",
    );
  });
  test("a credential route that could only carry its credential in clear or unseen", () => {
    expect(run("egress:\n  - host: a.com\n    tls: passthrough\n    auth: {token_ref: T}")).toThrow(
      "/h/bottles/dev.md: egress[0] (a.com) has auth with tls: passthrough; the gate injects a credential only inside TLS it terminates: remove tls: passthrough or auth",
    );
    expect(run("egress:\n  - host: b.com\n  - host: a.com\n    ports: [443, 80]\n    auth: {token_ref: T}")).toThrow(
      "/h/bottles/dev.md: egress[1].ports (a.com) lists 80, plain http; a credential is only sent over https: remove 80 (a route with auth and no ports means 443)",
    );
    // Other ports are a TLS upstream on a port of its own; the built-in
    // Claude routes (no ports: 443 only) pass.
    expect(run("egress:\n  - host: a.com\n    ports: [8443]\n    auth: {token_ref: T}")().egress[0]!.ports).toEqual([8443]);
    expect(run("", { ANTHROPIC_API_KEY: "k" })().egress.find((r) => r.host === "api.anthropic.com")!.auth?.token_ref).toBe("ANTHROPIC_API_KEY");
  });
  test("a host listed twice", () => {
    expect(run("egress:\n  - host: a.com\n  - host: A.com")).toThrow("/h/bottles/dev.md: egress[1].host: 'A.com' is listed twice; merge the two routes");
  });
});

describe("workspace", () => {
  test("copy in a git repo, none outside; the agent overrides; --mount wins", () => {
    expect(chooseWorkspace({ bottle: "b" }, { cwd: "/w/sub", gitRoot: "/w", mountFlag: false })).toEqual({ mode: "copy", path: "/w" });
    expect(chooseWorkspace({ bottle: "b" }, { cwd: "/t", gitRoot: null, mountFlag: false })).toEqual({ mode: "none", path: null });
    expect(chooseWorkspace({ bottle: "b", workspace: "none" }, { cwd: "/w", gitRoot: "/w", mountFlag: false })).toEqual({ mode: "none", path: null });
    expect(chooseWorkspace({ bottle: "b", workspace: "copy" }, { cwd: "/t", gitRoot: null, mountFlag: false })).toEqual({ mode: "copy", path: "/t" });
    expect(chooseWorkspace({ bottle: "b", workspace: "none" }, { cwd: "/t", gitRoot: null, mountFlag: true })).toEqual({ mode: "mount", path: "/t" });
  });
});
