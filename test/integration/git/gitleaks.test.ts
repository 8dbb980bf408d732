import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { baseEnv } from "../../../src/git/exec.ts";
import { clientEnv, makeUpstream, ok, refs, serveVhost, sh, tempDir } from "./harness.ts";

// The hook's gitleaks wiring: when a `gitleaks` executable is on the gate's
// PATH the hook runs it over the pushed commits and refuses the push on any
// finding it reports. gitleaks itself is not installed on this machine, so a
// small stand-in prints a report in gitleaks' JSON format; it also records
// its arguments so the test checks what the hook asked for (redaction, the
// pushed range). This checks our side only, not real gitleaks.
describe("git vhost: gitleaks on PATH", () => {
  const t = tempDir();
  const env = clientEnv(t.dir);
  const bin = join(t.dir, "bin");
  let upstream: string;
  let srv: { base: string; stop: () => void };

  beforeAll(async () => {
    upstream = await makeUpstream(t.dir, env);
    mkdirSync(bin);
    writeFileSync(
      join(bin, "gitleaks"),
      [
        "#!/bin/sh",
        `printf '%s\\n' "$@" > ${JSON.stringify(join(t.dir, "gitleaks-args"))}`,
        'report=""; prev=""',
        'for a in "$@"; do [ "$prev" = "--report-path" ] && report="$a"; prev="$a"; done',
        `if [ -e ${JSON.stringify(join(t.dir, "leak-mode"))} ]; then`,
        '  printf \'[{"RuleID":"generic-api-key","File":"notes.txt","Commit":"0123456789abcdef","Secret":"REDACTED"}]\' > "$report"',
        "else",
        '  printf "[]" > "$report"',
        "fi",
        "exit 0",
        "",
      ].join("\n"),
    );
    chmodSync(join(bin, "gitleaks"), 0o755);
    const base = baseEnv();
    srv = serveVhost({
      stateDir: join(t.dir, "state"),
      slug: "dev-leaks",
      upstreams: [{ name: "origin", url: upstream, allow_force: false, allow_delete: false }],
      secretsEnv: {},
      env: { ...base, PATH: `${bin}:${base.PATH}` },
    });
  });
  afterAll(() => {
    srv?.stop();
    t.cleanup();
  });

  test("a gitleaks finding refuses the push; a clean report lets it through", async () => {
    const dir = join(t.dir, "work");
    await ok(sh(["git", "clone", "-q", `${srv.base}/origin.git`, dir], { env }), "clone");
    const parent = (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();
    writeFileSync(join(dir, "notes.txt"), "nothing our own rules know\n");
    await ok(sh(["git", "add", "."], { cwd: dir, env }), "add");
    await ok(sh(["git", "commit", "-qm", "notes"], { cwd: dir, env }), "commit");
    const head = (await sh(["git", "rev-parse", "HEAD"], { cwd: dir, env })).stdout.trim();

    writeFileSync(join(t.dir, "leak-mode"), "");
    const r = await sh(["git", "push", "origin", "main"], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("rule gitleaks:generic-api-key matched in file notes.txt (commit 0123456789ab)");
    expect((await refs(upstream, env))["refs/heads/main"]).toBe(parent);
    const args = (await Bun.file(join(t.dir, "gitleaks-args")).text()).split("\n");
    expect(args).toContain("--redact");
    expect(args).toContain(`--log-opts=${head} --not --all`);

    rmSync(join(t.dir, "leak-mode"));
    await ok(sh(["git", "push", "-q", "origin", "main"], { cwd: dir, env }), "push");
    expect((await refs(upstream, env))["refs/heads/main"]).toBe(head);
  });
});
