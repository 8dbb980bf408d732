import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stopGate } from "../../../src/supervise/gate.ts";
import { launchGitGate } from "./launched-gate.ts";
import { clientEnv, makeUpstream, ok, sh, tempDir } from "./harness.ts";

// PATH reaches the gate (it must find git), and the gate's git children
// get the upstream's token. A repository that puts its own folder on PATH
// (direnv's `PATH_add bin`, a very ordinary .envrc line) must not choose
// the `git` the gate runs. The real launcher function starts the real gate
// process from inside such a repository; a request through the gate makes
// it run git (the mirror's refresh from the upstream); the repository's
// `git` records any run of itself.

const t = tempDir("cb-gate-path-");
afterAll(async () => {
  await stopGate(join(t.dir, "state")).catch(() => {});
  t.cleanup();
});

test("a PATH entry inside the current repository does not choose the gate's git", async () => {
  const env = clientEnv(t.dir);
  const upstream = await makeUpstream(t.dir, env);
  const repo = join(t.dir, "repo");
  await ok(sh(["git", "init", "-q", repo], { env }), "init");
  mkdirSync(join(repo, "bin"));
  const ran = join(t.dir, "repo-git-ran");
  const realGit = Bun.which("git", { PATH: process.env.PATH })!;
  writeFileSync(join(repo, "bin", "git"), `#!/bin/sh\necho "$@" >> '${ran}'\nexec '${realGit}' "$@"\n`);
  chmodSync(join(repo, "bin", "git"), 0o755);

  const stateDir = join(t.dir, "state");
  const port = await launchGitGate({ stateDir, upstream, slug: "path-abcde", cwd: repo, env: { PATH: `${join(repo, "bin")}:${process.env.PATH}` } });
  const proxy = `http://127.0.0.1:${port}`;
  // The request ran git in the gate: it answers with the upstream's refs.
  const r = await ok(sh(["git", "ls-remote", "http://git.bottle.internal/origin.git"], { env: { ...env, http_proxy: proxy, HTTP_PROXY: proxy } }), "ls-remote");
  expect(r.stdout).toContain("refs/heads/main");
  expect(existsSync(ran) ? readFileSync(ran, "utf8") : "").toBe("");
}, 60_000);
