import type { PlanJson } from "../plan/types.ts";
import type { Spec } from "../manifest/spec.ts";
import { bottleHome } from "../state/paths.ts";
import { writeAbove } from "../ui/status-line.ts";
import { launch, type LaunchDeps } from "./launcher.ts";

// The modules a launch needs, loaded lazily: `up` starts this while it
// waits for its backend probe.
export function loadDeps() {
  return Promise.all([
    import("../backends/registry.ts"),
    import("../gate/tls/ca.ts"),
    import("../gate/credentials.ts"),
    import("../manifest/env.ts"),
    import("./tty.ts"),
    import("../provision/provision.ts"),
  ]);
}

// The real wiring of the launcher for `up` and `resume`: real backend,
// gate, CA, placeholders and tty prompts.
export async function realDeps(
  backendName: PlanJson["backend"],
  env: Record<string, string | undefined> = process.env,
): Promise<LaunchDeps> {
  const [{ getBackend }, { ensureCa }, { makePlaceholder }, { resolveEnvValues }, { askSecret }, { provisionBottle, stageHomeTar }] = await loadDeps();
  const backend = await getBackend(backendName);
  return {
    home: bottleHome(env),
    backend,
    hostEnv: env,
    resolveEnv: async (spec: Spec) => ({ values: await resolveEnvValues(spec.env, env, askSecret, spec.sources.bottle) }),
    ensureCa: (dir) => ensureCa(dir),
    makePlaceholder,
    provision: provisionBottle,
    stageHome: stageHomeTar,
    remintSlug: undefined,
    signals: process,
    err: (l) => writeAbove((s) => void process.stderr.write(s), l + "\n"),
    out: (l) => process.stdout.write(l + "\n"),
    tty: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  };
}

export async function runUp(args: { spec: Spec; plan: PlanJson; yes: boolean; detached: boolean; cwd: string; verbose?: boolean }): Promise<number> {
  if (!args.yes) {
    const { confirm } = await import("./tty.ts");
    if (!(await confirm("claude-bottle: launch this agent?", "launch"))) {
      process.stderr.write("claude-bottle: aborted by user\n");
      return 0;
    }
  }
  const deps = await realDeps(args.plan.backend);
  const { makeSlug } = await import("../state/slug.ts");
  deps.remintSlug = () => makeSlug(args.spec.agent);
  const { firstRunTopics, takeFirstRunLines } = await import("./first-run.ts");
  const usingDefaults = args.spec.sources.agent === "<embedded>" && args.spec.sources.bottle === "<embedded>";
  for (const l of takeFirstRunLines(deps.home, firstRunTopics({ backend: deps.backend, usingDefaults, detached: args.detached }))) deps.err(l);
  return launch({ spec: args.spec, plan: args.plan, detached: args.detached, cwd: args.cwd, verbose: args.verbose }, deps);
}

export async function runResume(home: string, slug: string, detached: boolean, doorFlag?: string): Promise<number> {
  const [{ loadResumable }, { doorNow }] = await Promise.all([import("./resume.ts"), import("../backends/door-probe.ts")]);
  const r = loadResumable(home, slug);
  // The door is the engine's, not the bottle's: chosen again for the
  // engine there is now (--door > CLAUDE_BOTTLE_DOOR > auto).
  const { door, warnings } = await doorNow(r.meta.backend, doorFlag, process.env);
  for (const w of warnings) process.stderr.write(`claude-bottle: warning: ${w}\n`);
  const deps = await realDeps(r.meta.backend);
  deps.home = home;
  return launch({ spec: r.spec, plan: { ...r.plan, door }, detached, cwd: r.meta.cwd, resume: true }, deps);
}
