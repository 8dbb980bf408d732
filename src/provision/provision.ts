import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { lastLine } from "./lines.ts";
import { GUEST_ROOT, GUEST_USER } from "../backends/guest.ts";
import type { Bottle } from "../backends/types.ts";
import { UserError } from "../errors.ts";
import type { Spec } from "../manifest/spec.ts";
import { paths } from "../state/paths.ts";
import { stageHome } from "./home.ts";
import { caMarker, homeStepArgv, NEEDS_TRUST, RELAY_DOWN, trustStepArgv } from "./scripts.ts";
import { checkSkills } from "./skills.ts";
import { copyWorkspace } from "./workspace.ts";

// Provisioning a started bottle (DESIGN.md data flow step 6), the same for
// every backend and run by the launcher right after backend.launch: the
// workspace copy (with its origin pointed at the gate), the agent's home
// (prompt, skills, git URL rewrites, Claude settings) and the bottle's CA in
// the system trust store. Only through the Bottle interface.
//
// Each exec is a round trip through docker or smolvm, so the home goes in as
// ONE tar in ONE exec, which also waits for the relay and checks the trust
// store; the workspace copy runs next to it. A root step follows only when
// the backend did not already start the bottle trusting its CA.

export interface ProvisionInput {
  spec: Spec;
  stateDir: string;
  hostEnv: Record<string, string | undefined>;
  progress: (s: string) => void;
}

// The placeholder the bottle holds for ANTHROPIC_API_KEY (policy.json has
// placeholders, never real values), so Claude Code's config can approve it.
function apiKeyPlaceholder(stateDir: string): string | null {
  try {
    const p = JSON.parse(readFileSync(paths.policy(stateDir), "utf8")) as { placeholders?: Record<string, string> };
    return p.placeholders?.ANTHROPIC_API_KEY ?? null;
  } catch {
    return null;
  }
}

export async function provisionBottle(bottle: Bottle, input: ProvisionInput): Promise<void> {
  const { spec } = input;
  const caFile = join(paths.caDir(input.stateDir), "ca.crt");
  if (!existsSync(caFile)) throw new UserError(`the bottle's CA certificate ${caFile} is missing; run 'claude-bottle down' and start again`);
  const ca = readFileSync(caFile, "utf8");
  const marker = caMarker(ca);
  const skillDirs = checkSkills(spec, input.hostEnv);
  if (spec.workspace.mode === "copy" && !spec.workspace.path) throw new UserError("workspace mode copy needs a path; run from your project or use workspace: none");

  // Inside the state dir (0700): nothing in it is secret, but it is ours.
  const staging = join(input.stateDir, "provision");
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  try {
    const names = stageHome(staging, spec, skillDirs, { apiKeyPlaceholder: apiKeyPlaceholder(input.stateDir) });
    input.progress("provisioning the bottle");
    const [home] = await Promise.all([
      homeStep(bottle, staging, names, marker),
      spec.workspace.mode === "copy" ? copyWorkspace(bottle, spec.workspace.path!, input.progress) : Promise.resolve(),
    ]);
    if (home === NEEDS_TRUST) {
      input.progress("trusting the bottle's CA");
      const r = await bottle.run(trustStepArgv(marker), { user: GUEST_ROOT, input: ca });
      if (r.code !== 0) throw new UserError(`could not add the bottle's CA to the trust store in the bottle: ${lastLine(r.stderr) ?? `exit ${r.code}`}`);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

// The staged home as a tar stream into the home step; returns its exit code
// when that is NEEDS_TRUST (0 otherwise), throws on anything else.
async function homeStep(bottle: Bottle, staging: string, names: string[], marker: string): Promise<number> {
  // COPYFILE_DISABLE: macOS tar would add AppleDouble ._ files.
  const tar = Bun.spawn(["tar", "-C", staging, "-cf", "-", ...names], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, COPYFILE_DISABLE: "1" } });
  const [tarErr, tarCode, r] = await Promise.all([new Response(tar.stderr).text(), tar.exited, bottle.run(homeStepArgv(marker), { user: GUEST_USER, input: tar.stdout })]);
  if (tarCode !== 0) throw new UserError(`could not pack the agent's home for the bottle: ${lastLine(tarErr) ?? `tar exit ${tarCode}`}`);
  if (r.code === 0 || r.code === NEEDS_TRUST) return r.code;
  if (r.code === RELAY_DOWN) throw new UserError(`the gate relay in bottle ${bottle.slug} did not start listening; the bottle's log may say why`);
  throw new UserError(`could not provision the agent's home in the bottle: ${lastLine(r.stderr) ?? `exit ${r.code}`}`);
}
