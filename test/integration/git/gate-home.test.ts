import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { insteadOfConfig } from "../../../src/git/gitconfig.ts";
import { stopGate } from "../../../src/supervise/gate.ts";
import { launchGitGate } from "./launched-gate.ts";
import { awsKey, clientEnv, makeUpstream, ok, refs, sh, tempDir } from "./harness.ts";

// HOME reaches the gate, and git reads its global config from there. A git
// config can name the hooks git runs (core.hooksPath): the mirror's
// pre-receive hook, which scans every push and alone holds the upstream's
// token, must be the one that runs, whatever HOME says. And a HOME inside
// the repository being bottled (an .envrc line) is not the gate's HOME.
// The real launcher function starts the real gate process; a real git push
// of an AWS key goes through it.

const t = tempDir("cb-gate-home-");
afterAll(async () => {
  await stopGate(join(t.dir, "state")).catch(() => {});
  t.cleanup();
});

test("a git config under HOME cannot replace the mirror's pre-receive hook", async () => {
  const env = clientEnv(t.dir);
  const upstream = await makeUpstream(t.dir, env);
  const repo = join(t.dir, "repo");
  await ok(sh(["git", "init", "-q", repo], { env }), "init");
  // The repository's HOME: a .gitconfig naming the repository's hooks.
  const evilHome = join(repo, ".home");
  const ran = join(t.dir, "repo-hook-ran");
  mkdirSync(join(repo, "hooks"), { recursive: true });
  mkdirSync(evilHome);
  writeFileSync(join(repo, "hooks", "pre-receive"), `#!/bin/sh\nenv > '${ran}'\nexit 0\n`);
  chmodSync(join(repo, "hooks", "pre-receive"), 0o755);
  writeFileSync(join(evilHome, ".gitconfig"), `[core]\n\thooksPath = ${join(repo, "hooks")}\n`);

  const stateDir = join(t.dir, "state");
  const port = await launchGitGate({ stateDir, upstream, slug: "home-abcde", cwd: repo, env: { HOME: evilHome } });
  const proxy = `http://127.0.0.1:${port}`;
  const penv = { ...env, http_proxy: proxy, HTTP_PROXY: proxy };
  writeFileSync(join(t.dir, ".gitconfig"), insteadOfConfig([{ name: "origin", url: upstream }], "http://git.bottle.internal"), { flag: "a" });

  const work = join(t.dir, "work");
  await ok(sh(["git", "clone", "-q", upstream, work], { env: penv }), "clone");
  const key = awsKey();
  writeFileSync(join(work, "creds.txt"), `aws_access_key_id = ${key}\n`);
  await ok(sh(["git", "add", "-A"], { cwd: work, env }), "add");
  await ok(sh(["git", "commit", "-qm", "creds"], { cwd: work, env }), "commit");
  const before = await refs(upstream, env);
  const r = await sh(["git", "push", "origin", "main"], { cwd: work, env: penv });
  // The push ran through the gate's mirror, and its own hook refused it.
  expect(r.stdout + r.stderr).toContain("push rejected by the secret scan");
  expect(r.code).not.toBe(0);
  expect(existsSync(ran)).toBe(false);
  expect(await refs(upstream, env)).toEqual(before);
  // Nor does the mirror keep what was refused.
  const mirror = join(stateDir, "git", "origin.git");
  const head = (await sh(["git", "rev-parse", "HEAD"], { cwd: work, env })).stdout.trim();
  expect((await sh(["git", "cat-file", "-e", head], { cwd: mirror, env })).code).not.toBe(0);
}, 60_000);
