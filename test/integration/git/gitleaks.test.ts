import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { baseEnv } from "../../../src/git/exec.ts";
import { FINDINGS_EXIT, runGitleaks } from "../../../src/git/gitleaks.ts";
import { clientEnv, makeUpstream, ok, refs, serveVhost, sh, tempDir } from "./harness.ts";

// Our side of the gitleaks contract, with a stand-in named `gitleaks` put
// FIRST on the gate's PATH (so it wins over a real gitleaks installed on the
// machine; gitleaks-real.test.ts runs the real one). The stand-in behaves
// like gitleaks 8.16 as read from its source: `detect --help` lists
// --log-opts, findings exit with --exit-code and are written to
// --report-path, errors exit 1 with an "ERR" log line. A mode file switches
// it to leaks, errors, a report whose secret is not redacted, a gitleaks
// without `detect` (only `git`, as a future release might be), or a hang.
// Each scan records its arguments, so the test checks what the hook asked
// for.
const STAND_IN = (dir: string) =>
  [
    "#!/bin/sh",
    `mode=$(cat ${JSON.stringify(join(dir, "mode"))} 2>/dev/null)`,
    'if [ "$1" = detect ] && [ "$mode" = no-detect ]; then',
    '  echo "Error: unknown command \\"detect\\" for \\"gitleaks\\"" >&2; exit 1',
    "fi",
    'case "$2" in --help)',
    '  case "$1" in detect|git) echo "      --log-opts string   git log options"; exit 0;; esac',
    '  echo "Error: unknown command" >&2; exit 1;;',
    "esac",
    `printf '%s\\n' "$@" > ${JSON.stringify(join(dir, "gitleaks-args"))}`,
    'report=""; code=1; prev=""',
    'for a in "$@"; do',
    '  [ "$prev" = "--report-path" ] && report="$a"',
    '  [ "$prev" = "--exit-code" ] && code="$a"',
    '  prev="$a"',
    "done",
    'case "$mode" in',
    "  leak)",
    '    printf \'[{"RuleID":"generic-api-key","File":"notes.txt","Commit":"0123456789abcdef","Secret":"REDACTED"}]\' > "$report"; exit "$code";;',
    "  unredacted)",
    '    printf \'[{"RuleID":"generic-api-key","File":"notes.txt","Commit":"0123456789abcdef","Secret":"UNREDACTED-SECRET-VALUE","Match":"key = UNREDACTED-SECRET-VALUE"}]\' > "$report"; exit "$code";;',
    "  error)",
    '    printf \'10:27PM \\033[31mERR\\033[0m [git] fatal: bad object deadbeef\\n10:27PM WRN no leaks found in partial scan\\n\' >&2',
    '    printf "[]" > "$report"; exit 1;;',
    "  lying)",
    '    printf "[]" > "$report"; exit "$code";;',
    "  hang) sleep 30; exit 0;;",
    "esac",
    'printf "[]" > "$report"',
    "exit 0",
    "",
  ].join("\n");

describe("git vhost: gitleaks on PATH (stand-in)", () => {
  const t = tempDir();
  const env = clientEnv(t.dir);
  const bin = join(t.dir, "bin");
  const mode = (m: string) => writeFileSync(join(t.dir, "mode"), m);
  let upstream: string;
  let srv: { base: string; stop: () => void };
  let dir: string;

  beforeAll(async () => {
    upstream = await makeUpstream(t.dir, env);
    mkdirSync(bin);
    writeFileSync(join(bin, "gitleaks"), STAND_IN(t.dir));
    chmodSync(join(bin, "gitleaks"), 0o755);
    const base = baseEnv();
    srv = serveVhost({
      stateDir: join(t.dir, "state"),
      slug: "dev-leaks",
      upstreams: [{ name: "origin", url: upstream, allow_force: false, allow_delete: false }],
      secretsEnv: {},
      env: { ...base, PATH: `${bin}:${base.PATH}` },
    });
    dir = join(t.dir, "work");
    await ok(sh(["git", "clone", "-q", `${srv.base}/origin.git`, dir], { env }), "clone");
  });
  afterAll(() => {
    srv?.stop();
    t.cleanup();
  });

  async function commit(name: string): Promise<string> {
    writeFileSync(join(dir, name), "nothing our own rules know\n");
    await ok(sh(["git", "add", "."], { cwd: dir, env }), "add");
    await ok(sh(["git", "commit", "-qm", name], { cwd: dir, env }), "commit");
    return (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
  }
  const upstreamMain = async () => (await refs(upstream, env))["refs/heads/main"];
  const args = async () => (await Bun.file(join(t.dir, "gitleaks-args")).text()).split("\n");

  test("a gitleaks finding refuses the push; a clean report lets it through", async () => {
    const parent = await upstreamMain();
    const head = await commit("notes.txt");

    mode("leak");
    const r = await sh(["git", "push", "origin", "main"], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("rule gitleaks:generic-api-key matched in file notes.txt (commit 0123456789ab)");
    expect(await upstreamMain()).toBe(parent);
    const a = await args();
    expect(a[0]).toBe("detect");
    expect(a).toContain("--redact");
    expect(a).toContain("--no-banner");
    expect(a.slice(a.indexOf("--exit-code"), a.indexOf("--exit-code") + 2)).toEqual(["--exit-code", String(FINDINGS_EXIT)]);
    expect(a.slice(a.indexOf("--source"), a.indexOf("--source") + 2)).toEqual(["--source", join(t.dir, "state", "git", "origin.git")]);
    expect(a).toContain(`--log-opts=${head} --not --all`);

    mode("clean");
    await ok(sh(["git", "push", "-q", "origin", "main"], { cwd: dir, env }), "push");
    expect(await upstreamMain()).toBe(head);
  });

  test("the secret fields of a report are never shown, even unredacted", async () => {
    const parent = await upstreamMain();
    await commit("unredacted.txt");
    mode("unredacted");
    const r = await sh(["git", "push", "origin", "main"], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("rule gitleaks:generic-api-key");
    expect(r.stdout + r.stderr).not.toContain("UNREDACTED-SECRET-VALUE");
    expect(await upstreamMain()).toBe(parent);
  });

  test("gitleaks failing refuses the push with one clear line naming gitleaks", async () => {
    const parent = await upstreamMain();
    await commit("error.txt");
    mode("error");
    const r = await sh(["git", "push", "origin", "main"], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    const line = r.stderr.split("\n").find((l) => l.includes("claude-bottle: push rejected"));
    expect(line).toContain(`gitleaks (${join(bin, "gitleaks")}) failed (exit 1): [git] fatal: bad object deadbeef.`);
    expect(line).not.toContain("\x1b");
    expect(await upstreamMain()).toBe(parent);

    // Exit status says "leaks" but the report is empty: not trusted either.
    mode("lying");
    const l = await sh(["git", "push", "origin", "main"], { cwd: dir, env });
    expect(l.code).not.toBe(0);
    expect(l.stderr).toContain("but its report lists none");
    expect(await upstreamMain()).toBe(parent);
  });

  test("a gitleaks without `detect` is run as `gitleaks git ... <repo>`", async () => {
    const head = await commit("nodetect.txt");
    mode("no-detect");
    await ok(sh(["git", "push", "-q", "origin", "main"], { cwd: dir, env }), "push");
    expect(await upstreamMain()).toBe(head);
    const a = (await args()).filter(Boolean);
    expect(a[0]).toBe("git");
    expect(a).not.toContain("--source");
    expect(a.at(-1)).toBe(join(t.dir, "state", "git", "origin.git"));
    expect(a).toContain(`--log-opts=${head} --not --all`);
  });

  test("a gitleaks that hangs is killed after the timeout and the push refused", async () => {
    mode("hang");
    const head = (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
    const started = Date.now();
    const r = await runGitleaks({
      bin: join(bin, "gitleaks"),
      gitDir: upstream,
      env: baseEnv(),
      newOids: [head],
      timeoutMs: 500,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r).toEqual({ ok: false, error: `gitleaks (${join(bin, "gitleaks")}) did not finish within 0.5 s` });
  });
});
