import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { paths } from "../../../src/state/paths.ts";
import { gateCommand, spawnGate } from "../../../src/supervise/gate.ts";

// The real gate process with one git upstream, started by the launcher's
// own function (spawnGate) as `up` would from `cwd` with `env` planted in
// its environment: what the launcher's shell and folder pass on is what is
// under test. Resolves to the gate's TCP port (its proxy).
export async function launchGitGate(opts: { stateDir: string; upstream: string; slug: string; cwd: string; env: Record<string, string> }): Promise<number> {
  const { stateDir } = opts;
  mkdirSync(stateDir, { mode: 0o700 });
  const git = [{ name: "origin", url: opts.upstream, allow_force: false, allow_delete: false }];
  writeFileSync(paths.policy(stateDir), JSON.stringify({ version: 1, slug: opts.slug, routes: [], git, supervise: false, placeholders: {} }));
  const saved = { env: Object.fromEntries(Object.keys(opts.env).map((k) => [k, process.env[k]])), cwd: process.cwd() };
  Object.assign(process.env, opts.env);
  process.chdir(opts.cwd);
  try {
    await spawnGate({ stateDir, secrets: { credentials: {}, secrets: [] }, command: [...gateCommand(stateDir), "--listen", "127.0.0.1:0"] });
  } finally {
    for (const [k, v] of Object.entries(saved.env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    process.chdir(saved.cwd);
  }
  for (let i = 0; i < 200; i++) {
    const m = existsSync(paths.gateOut(stateDir)) ? /127\.0\.0\.1:(\d+)/.exec(readFileSync(paths.gateOut(stateDir), "utf8")) : null;
    if (m) return Number(m[1]);
    await Bun.sleep(50);
  }
  throw new Error("the gate did not start listening");
}
