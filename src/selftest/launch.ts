import type { UpstreamOverrides } from "../gate/types.ts";

// `up selftest -d --yes`, run inside the selftest process rather than as a
// child `up`: the launcher here is the only one that can hand the gate its
// upstream overrides (the recording upstream's names and CA), on the gate's
// stdin. A child `up` could only have learnt them from its environment or
// argv, which a user's shell can set too.
export async function upSelftestBottle(opts: {
  env: Record<string, string | undefined>; // CLAUDE_BOTTLE_HOME and the planted secrets
  cwd: string;
  backend?: string;
  door?: string;
  upstream: UpstreamOverrides;
  log: (line: string) => void;
}): Promise<string> {
  const [{ preparePlan }, { realDeps }, { launch }, { makeSlug }] = await Promise.all([
    import("../plan/prepare.ts"),
    import("../launch/run.ts"),
    import("../launch/launcher.ts"),
    import("../state/slug.ts"),
  ]);
  const { spec, plan } = preparePlan({ agent: "selftest", dryRun: false, backendFlag: opts.backend, doorFlag: opts.door, mount: false, cwd: opts.cwd, env: opts.env });
  const deps = await realDeps(plan.backend, opts.env);
  let slug = "";
  deps.remintSlug = () => makeSlug(spec.agent);
  deps.gateUpstream = opts.upstream;
  deps.tty = false;
  deps.out = (l) => (slug = l.trim());
  deps.err = (l) => opts.log(l);
  const code = await launch({ spec, plan, detached: true, cwd: opts.cwd }, deps);
  if (code !== 0 || !slug) throw new Error(`could not start the selftest bottle (exit ${code})`);
  return slug;
}
