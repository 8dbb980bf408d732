import { resolve } from "node:path";
import { UserError } from "../errors.ts";
import { chooseBackend, noBackendMessage, probeBackend, type BackendChoice, type BackendProbe } from "../backends/select.ts";
import { planDoor } from "../backends/door-probe.ts";
import { claudeCredential } from "../defaults/claude.ts";
import { checkHostVars } from "../manifest/env.ts";
import { safeName } from "../manifest/issues.ts";
import { loadCatalog } from "../manifest/load.ts";
import { resolveSpec } from "../manifest/resolve.ts";
import { MANIFEST_NAME_RE } from "../manifest/schema.ts";
import { bottleHome, findGitRoot } from "../state/home.ts";
import { paths } from "../state/paths.ts";
import { makeSlug } from "../state/slug.ts";
import { buildPlan, missingTokenRefs, mountWarnings, privateWarnings } from "./build.ts";
import type { BackendName } from "../backends/names.ts";
import type { PlanJson } from "./types.ts";
import type { Spec } from "../manifest/spec.ts";

// `up` up to the point of confirmation (DESIGN.md data flow 1-4): load,
// resolve, choose a backend, plan. Reads files and runs probes, but creates
// nothing: no directories, no files, no containers, no lasting processes.

export interface PrepareOptions {
  agent: string;
  dryRun: boolean;
  backendFlag?: string;
  doorFlag?: string;
  mount: boolean;
  cwd: string;
  env: Record<string, string | undefined>;
  probe?: (name: BackendName) => BackendProbe; // tests can pin the probes
}

export interface Prepared {
  spec: Spec;
  plan: PlanJson;
  choice: BackendChoice;
  warnings: string[];
}

export function preparePlan(opts: PrepareOptions): Prepared {
  if (!MANIFEST_NAME_RE.test(opts.agent) || opts.agent.length > 64) {
    throw new UserError(`${safeName(opts.agent)} is not an agent name; names look like my-agent (a-z, 0-9, -)`);
  }
  const home = bottleHome(opts.env, { cwd: opts.cwd });
  const { catalog, warnings } = loadCatalog(home, opts.cwd, opts.env);
  const spec = resolveSpec(catalog, opts.agent, opts.env, {
    cwd: resolve(opts.cwd),
    gitRoot: findGitRoot(opts.cwd),
    mountFlag: opts.mount,
  });
  // Now the workspace is known: the home must not be inside it either (a
  // mounted one is writable from the bottle, a copied one goes into it).
  bottleHome(opts.env, { cwd: opts.cwd, workspace: spec.workspace.path });
  // A dry run reads no values and asks nothing, but a missing ${HOST_VAR}
  // would fail the launch, so it is reported now.
  checkHostVars(spec.env, opts.env, spec.sources.bottle);
  warnings.push(...mountWarnings(spec), ...privateWarnings(spec));
  for (const ref of missingTokenRefs(spec, opts.env)) {
    warnings.push(`${ref} is not set on the host; set it before launching: the gate needs it to add that credential`);
  }
  if (!claudeCredential(opts.env)) {
    warnings.push("neither CLAUDE_CODE_OAUTH_TOKEN nor ANTHROPIC_API_KEY is set: Claude Code will have no credential (create one with 'claude setup-token')");
  }
  const choice = chooseBackend(opts.backendFlag, opts.env.CLAUDE_BOTTLE_BACKEND, opts.probe ?? ((n) => probeBackend(n, opts.env)));
  if (!choice.usable) {
    if (!opts.dryRun) throw new UserError(noBackendMessage(choice));
    warnings.push(`${noBackendMessage(choice)} (the plan shows ${choice.backend})`);
  }
  const d = planDoor({ backend: choice.backend, flag: opts.doorFlag, env: opts.env, engine: choice.engine });
  warnings.push(...d.warnings);
  if (d.problems.length > 0) {
    if (!opts.dryRun) throw new UserError(d.problems[0]!);
    warnings.push(...d.problems);
  }
  const slug = makeSlug(spec.agent);
  const plan = buildPlan(spec, { backend: choice.backend, slug, stateDir: paths.stateDir(home, slug), warnings, door: d.door });
  return { spec, plan, choice, warnings };
}
