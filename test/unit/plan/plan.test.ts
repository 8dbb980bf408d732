import { describe, expect, test } from "bun:test";
import { buildPlan, missingTokenRefs, privateWarnings } from "../../../src/plan/build.ts";
import { egressLine, renderPlanText } from "../../../src/plan/text.ts";
import { buildCatalog } from "../../../src/manifest/catalog.ts";
import { resolveSpec } from "../../../src/manifest/resolve.ts";
import type { Spec } from "../../../src/manifest/spec.ts";

const SECRET_LITERAL = "lit-VALUE-d2f8a1";
function spec(env: Record<string, string> = {}): Spec {
  const c = buildCatalog(
    {
      homeBottles: [
        {
          name: "dev",
          path: "/h/bottles/dev.md",
          bytes: `---
env: {LIT: "${SECRET_LITERAL}", HOSTED: "\${HV}", ASK: "?Token please"}
egress:
  - host: api.github.com
    methods: [GET, POST]
    paths: [/repos/, /user]
    auth: {token_ref: GH, scheme: token}
  - host: "*.example.org"
    ports: [443, 8443]
    tls: passthrough
    allow_private: ["10.1.0.0/16:8443", "[fd00::1]:443"]
  - host: lan.example.org
    allow_private: true
    git_push: scan
git:
  - {name: proj, url: "git@github.com:x/proj.git", branches: [agent/*]}
image: img:1
---
`,
        },
      ],
      homeAgents: [{ name: "coder", path: "/h/agents/coder.md", bytes: "---\nbottle: dev\nskills: [a, b]\n---\nhi" }],
      repoAgents: [],
    },
    env,
  );
  return resolveSpec(c, "coder", env, { cwd: "/w", gitRoot: "/w", mountFlag: false });
}

describe("buildPlan", () => {
  const plan = buildPlan(spec(), { backend: "docker", slug: "coder-ab12c", stateDir: "/h/state/coder-ab12c", warnings: ["w1"] });
  test("carries names and modes, never env values", () => {
    expect(plan.env).toEqual([
      { name: "LIT", mode: "literal", host_var: null },
      { name: "HOSTED", mode: "host", host_var: "HV" },
      { name: "ASK", mode: "prompt", host_var: null },
    ]);
    expect(JSON.stringify(plan)).not.toContain(SECRET_LITERAL);
  });
  test("the documented shape", () => {
    expect(plan).toMatchObject({
      version: 1,
      agent: "coder",
      bottle: "dev",
      backend: "docker",
      slug: "coder-ab12c",
      sources: { agent: "/h/agents/coder.md", bottle: "/h/bottles/dev.md" },
      skills: ["a", "b"],
      git: [{ name: "proj", upstream: "git@github.com:x/proj.git", branches: ["agent/*"], allow_force: false, allow_delete: false }],
      workspace: { mode: "copy", path: "/w" },
      image: "img:1",
      resources: {},
      supervise: false,
      state_dir: "/h/state/coder-ab12c",
      warnings: ["w1"],
    });
    expect(plan.egress[0]).toEqual({
      host: "api.github.com",
      ports: null,
      methods: ["GET", "POST"],
      paths: ["/repos/", "/user"],
      tls: "terminate",
      dlp: "on",
      auth: { header: "Authorization", scheme: "token", token_ref: "GH" },
      allow_private: false,
      git_push: null,
    });
    expect(Object.keys(plan).sort()).toEqual(
      ["agent", "backend", "bottle", "door", "egress", "env", "git", "image", "resources", "skills", "slug", "sources", "state_dir", "supervise", "version", "warnings", "workspace"].sort(),
    );
  });
  test("allow_private: a list is carried as written; true (an exact host) is a warning", () => {
    expect(plan.egress[1]!.allow_private).toEqual(["10.1.0.0/16:8443", "[fd00::1]:443"]);
    expect(plan.egress[2]!.allow_private).toBe(true);
    expect(privateWarnings(spec())).toEqual([
      'egress lan.example.org: allow_private: true lets it reach every private and loopback address (LAN services, this machine\'s own services); name the ones it needs instead, e.g. allow_private: ["10.0.0.5:5432"]',
    ]);
  });
  test("token_refs not set on the host are reported", () => {
    expect(missingTokenRefs(spec(), {})).toEqual(["GH"]);
    expect(missingTokenRefs(spec({ GH: "x" }), { GH: "x" })).toEqual([]);
  });
});

describe("renderPlanText", () => {
  const plan = buildPlan(spec(), { backend: "smolmachines", slug: "coder-ab12c", stateDir: "/s", warnings: [] });
  test("egress lines: host [ports] [methods] [paths] [auth:scheme] [tls] ...", () => {
    expect(egressLine(plan.egress[0]!)).toBe("api.github.com GET,POST /repos/,/user auth:token");
    expect(egressLine(plan.egress[1]!)).toBe("*.example.org:443,8443 tls:passthrough allow-private:10.1.0.0/16:8443,[fd00::1]:443");
    expect(egressLine(plan.egress[2]!)).toBe("lan.example.org allow-private:all git-push:scan");
    expect(egressLine({ ...plan.egress[0]!, methods: null, paths: null, auth: { header: "x-api-key", scheme: "", token_ref: "K" }, dlp: "off" })).toBe(
      "api.github.com auth:x-api-key dlp:off",
    );
  });
  test("the whole summary", () => {
    const text = renderPlanText(plan);
    expect(text.split("\n").slice(0, 14)).toEqual([
      "agent     coder  (/h/agents/coder.md)",
      "bottle    dev  (/h/bottles/dev.md)",
      "backend   smolmachines",
      "slug      coder-ab12c",
      "env       LIT (literal)",
      "          HOSTED (from host $HV)",
      "          ASK (asked at launch)",
      "skills    a",
      "          b",
      "git       proj -> git@github.com:x/proj.git",
      "egress    api.github.com GET,POST /repos/,/user auth:token",
      "          *.example.org:443,8443 tls:passthrough allow-private:10.1.0.0/16:8443,[fd00::1]:443",
      "          lan.example.org allow-private:all git-push:scan",
      "          api.anthropic.com dlp:off",
    ]);
    expect(text).toContain("\nworkspace copy /w\n");
    expect(text).toContain("\nimage     img:1\n");
    expect(text).not.toContain(SECRET_LITERAL);
  });
  test("the door, and for the bridge door how the bridge reaches the gate", () => {
    const bridge = renderPlanText({
      ...plan,
      backend: "docker",
      door: { kind: "bridge", source: "auto", why: "the engine runs in a VM (Docker Desktop): a host unix socket cannot cross into it", engine: "Docker Desktop", gate_listen: "127.0.0.1", add_host: null },
    });
    expect(bridge).toEndWith(
      [
        "door      bridge (auto): the engine runs in a VM (Docker Desktop): a host unix socket cannot cross into it",
        "          gate door on 127.0.0.1:<port>, dialled from a bridge container as host.docker.internal",
        "",
      ].join("\n"),
    );
    const linux = renderPlanText({ ...plan, door: { kind: "bridge", source: "flag", why: "chosen with --door bridge", engine: null, gate_listen: "172.17.0.1", add_host: "host.docker.internal:172.17.0.1" } });
    expect(linux).toContain("          gate door on 172.17.0.1:<port>, dialled from a bridge container as host.docker.internal (--add-host host.docker.internal:172.17.0.1)\n");
    expect(renderPlanText(plan)).toContain("\ndoor      unix (auto): ");
  });
  test("empty fields say (none)", () => {
    const text = renderPlanText({ ...plan, env: [], skills: [], git: [] });
    expect(text).toContain("env       (none)\nskills    (none)\ngit       (none)\n");
  });
});
