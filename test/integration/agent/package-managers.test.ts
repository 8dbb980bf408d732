// The real npm and pip inside a docker bottle install from local registries
// through the gate, with TLS terminated by the gate: the bottle's clients
// trust the bottle's CA only through the variables the launcher sets
// (launch/trust-env.ts), and npm's scoped package (`GET /@scope%2fname`)
// passes a route with no path rules.
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditRecord } from "../../../src/gate/types.ts";
import { TRUST_VARS } from "../../../src/manifest/resolve.ts";
import { NPM_MARKER, NPM_NAME, NPM_SCOPE, PY_MARKER, PY_NAME, startNpmRegistry, startPypiIndex, type Registry } from "../../fixtures/registries.ts";
import { upWithUpstream } from "../../fixtures/up-with-upstream.ts";
import { dockerCliEnv, dockerTest, runCli } from "../../helpers/docker.ts";
import { multiSanCert } from "../gate/harness.ts";

const NPM_IP = "127.0.0.5";
const PY_IP = "127.0.0.6";

let home = "";
let work = "";
let npm: Registry;
let pypi: Registry;
let slug = "";
let env: Record<string, string> = {};
let caPem = "";

const cli = (args: string[]) => runCli(args, { cwd: work, env });

const sh = (script: string) => cli(["exec", slug, "--", "sh", "-c", script]);

function audit(): AuditRecord[] {
  return readFileSync(join(home, "state", slug, "audit.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "cb-pm-"));
  work = mkdtempSync(join(tmpdir(), "cb-pm-work-"));
  const cert = await multiSanCert([], "registries-test", [NPM_IP, PY_IP]);
  caPem = cert.caPem;
  npm = await startNpmRegistry(NPM_IP, cert);
  pypi = startPypiIndex(PY_IP, cert);
  mkdirSync(join(home, "bottles"), { recursive: true });
  mkdirSync(join(home, "agents"), { recursive: true });
  writeFileSync(
    join(home, "bottles", "pm.md"),
    [
      "---",
      "env:",
      `  NPM_CONFIG_REGISTRY: "${npm.url}/"`,
      `  PIP_INDEX_URL: "${pypi.url}/simple/"`,
      "egress:",
      `  - {host: "${NPM_IP}", ports: [${npm.port}], allow_private: true}`,
      `  - {host: "${PY_IP}", ports: [${pypi.port}], allow_private: true}`,
      "---",
      "",
    ].join("\n"),
  );
  writeFileSync(join(home, "agents", "pm.md"), "---\nbottle: pm\nworkspace: none\n---\n");
  env = dockerCliEnv(home);
}, 120_000);

afterAll(async () => {
  if (slug) await cli(["down", slug]);
  npm?.stop();
  pypi?.stop();
  for (const d of [home, work]) if (d) rmSync(d, { recursive: true, force: true });
});

dockerTest(
  "npm install of a scoped package and pip install of a wheel, from local registries, through the gate",
  async () => {
    const log: string[] = [];
    const up = await upWithUpstream({ agent: "pm", env, cwd: work, upstream: { ca: caPem }, detached: true, tty: false, err: (l) => log.push(l) });
    if (up.code !== 0) throw new Error(`up -d failed (${up.code}): ${log.join("\n")}`);
    slug = up.slug;

    // The clients are real and there: a failure below is the gate's or the trust's.
    const tools = await sh("npm --version && pip3 --version");
    expect(tools.code).toBe(0);

    // Every CA variable names a file that holds the bottle's CA.
    const ca = readFileSync(join(home, "state", slug, "ca", "ca.crt"), "utf8").trim().split("\n")[1]!;
    for (const v of TRUST_VARS) {
      const r = await sh(`test -n "$${v}" && grep -qF -- '${ca}' "$${v}"`);
      if (r.code !== 0) throw new Error(`${v} does not name a file with the bottle's CA`);
    }

    // A user npmrc with its own cafile (here a file that is no CA at all)
    // does not break npm: the launcher's NPM_CONFIG_CAFILE wins over it.
    const n = await sh(`printf 'cafile=/etc/hostname\n' > ~/.npmrc && mkdir -p /tmp/app && cd /tmp/app && npm install --no-audit --no-fund ${NPM_SCOPE}/${NPM_NAME} 2>&1 && node -e 'console.log(require("${NPM_SCOPE}/${NPM_NAME}"))'`);
    if (n.code !== 0) throw new Error(`npm install failed (${n.code}):\n${n.stdout}${n.stderr}`);
    expect(n.stdout).toContain(NPM_MARKER);
    // The registry got npm's own request for the scoped name, slash encoded.
    expect(npm.seen.some((s) => s.toLowerCase() === `get /${NPM_SCOPE}%2f${NPM_NAME}`)).toBe(true);
    expect(npm.seen).toContain(`GET /${NPM_SCOPE}/${NPM_NAME}/-/${NPM_NAME}-1.0.0.tgz`);

    const p = await sh(`pip3 install --no-cache-dir --target /tmp/py ${PY_NAME} 2>&1 && PYTHONPATH=/tmp/py python3 -c 'import ${PY_NAME}; print(${PY_NAME}.MARKER)'`);
    if (p.code !== 0) throw new Error(`pip install failed (${p.code}):\n${p.stdout}${p.stderr}`);
    expect(p.stdout).toContain(PY_MARKER);
    expect(pypi.seen).toContain(`GET /simple/${PY_NAME}/`);

    // TLS was terminated: the gate saw (and logged) each request inside.
    const lines = audit();
    expect(lines.some((a) => a.host === NPM_IP && a.method === "GET" && a.path?.toLowerCase().startsWith(`/${NPM_SCOPE}%2f`) && a.decision === "allow")).toBe(true);
    expect(lines.some((a) => a.host === PY_IP && a.method === "GET" && a.path === `/simple/${PY_NAME}/` && a.decision === "allow")).toBe(true);
    expect(lines.filter((a) => a.decision === "deny" && (a.host === NPM_IP || a.host === PY_IP))).toEqual([]);
  },
  600_000,
);
