import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { insteadOfConfig } from "../../../src/git/gitconfig.ts";
import { stopGate } from "../../../src/supervise/gate.ts";
import { launchGitGate } from "./launched-gate.ts";
import { awsKey, clientEnv, makeUpstream, ok, refs, sh, tempDir } from "./harness.ts";

// The user's own ~/.gitconfig reaches the gate's git (proxies and CAs for
// upstreams live there), and ordinary settings in it change what `git log`
// prints: log.showRoot=false drops a root commit's diff, diff.noprefix and
// diff.mnemonicPrefix change the file headers. The bottle picks what it
// pushes (an orphan branch: a root commit), so the scan must read the push
// the same whatever the user's settings. Real gate process, real push.

const t = tempDir("cb-gate-ucfg-");
afterAll(async () => {
  await stopGate(join(t.dir, "state")).catch(() => {});
  t.cleanup();
});

test("a root commit's secret is found whatever the user's git config says about diffs", async () => {
  const env = clientEnv(t.dir);
  const upstream = await makeUpstream(t.dir, env);
  const userHome = join(t.dir, "user-home");
  mkdirSync(userHome);
  writeFileSync(join(userHome, ".gitconfig"), "[log]\n\tshowRoot = false\n[diff]\n\tnoprefix = true\n\tmnemonicPrefix = true\n");
  // Launched from another folder (HOME is the user's, not the repository's),
  // without gitleaks on PATH: the built-in scan alone.
  const launchDir = join(t.dir, "elsewhere");
  mkdirSync(launchDir);
  const port = await launchGitGate({ stateDir: join(t.dir, "state"), upstream, slug: "ucfg-abcde", cwd: launchDir, env: { HOME: userHome, PATH: "/usr/bin:/bin" } });
  const proxy = `http://127.0.0.1:${port}`;
  const penv = { ...env, http_proxy: proxy, HTTP_PROXY: proxy };
  writeFileSync(join(t.dir, ".gitconfig"), insteadOfConfig([{ name: "origin", url: upstream }], "http://git.bottle.internal"), { flag: "a" });

  const work = join(t.dir, "work");
  await ok(sh(["git", "clone", "-q", upstream, work], { env: penv }), "clone");
  const key = awsKey();
  await ok(sh(["git", "checkout", "-q", "--orphan", "fresh"], { cwd: work, env }), "orphan");
  await ok(sh(["git", "rm", "-rfq", "."], { cwd: work, env }), "rm");
  writeFileSync(join(work, "creds.txt"), `aws_access_key_id = ${key}\n`);
  await ok(sh(["git", "add", "-A"], { cwd: work, env }), "add");
  await ok(sh(["git", "commit", "-qm", "a fresh start"], { cwd: work, env }), "commit");
  const before = await refs(upstream, env);
  const r = await sh(["git", "push", "origin", "fresh"], { cwd: work, env: penv });
  expect(r.stderr).toContain("push rejected by the secret scan: rule aws-access-key matched in file creds.txt");
  expect(r.code).not.toBe(0);
  expect(await refs(upstream, env)).toEqual(before);
}, 60_000);
