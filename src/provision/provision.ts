import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { lastLine } from "./lines.ts";
import { GUEST_ROOT, GUEST_USER } from "../backends/guest.ts";
import type { Bottle, BottleStart } from "../backends/types.ts";
import { UserError } from "../errors.ts";
import type { Spec } from "../manifest/spec.ts";
import { paths } from "../state/paths.ts";
import { stageHome } from "./home.ts";
import { caMarker, homeStepArgv, NEEDS_TRUST, RELAY_DOWN, trustStepArgv } from "./scripts.ts";
import { checkSkills } from "./skills.ts";
import { copyWorkspace } from "./workspace.ts";
import { recordBaseTips } from "./base-tips.ts";

// Provisioning a started bottle (DESIGN.md data flow step 6), the same for
// every backend and run by the launcher right after backend.launch: the
// workspace copy (with its origin pointed at the gate), the agent's home
// (prompt, skills, git URL rewrites, Claude settings) and the bottle's CA in
// the system trust store. Only through the Bottle interface.
//
// The home is staged before the launch as ONE tar (stageHomeTar), which a
// backend may unpack as the bottle starts (docker: LaunchContext.homeTar).
// What the start did not do, or could not be seen to do (Bottle.started),
// takes ONE exec: unpack the tar, wait for the relay, check the trust store.
// Each exec is a round trip through docker or smolvm. The workspace copy
// runs next to it. A root step follows only when the backend did not already
// start the bottle trusting its CA.

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

// Stages the agent's home and packs it into paths.homeTar (0644: the
// bottle's agent reads it where a backend mounts it); returns that path.
// Inside the state dir (0700): nothing in it is secret, but it is ours.
export async function stageHomeTar(input: ProvisionInput): Promise<string> {
  const skillDirs = checkSkills(input.spec, input.hostEnv);
  const staging = join(input.stateDir, "provision");
  const tarFile = paths.homeTar(input.stateDir);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  try {
    const names = stageHome(staging, input.spec, skillDirs, { apiKeyPlaceholder: apiKeyPlaceholder(input.stateDir) });
    // COPYFILE_DISABLE: macOS tar would add AppleDouble ._ files.
    const tar = Bun.spawn(["tar", "-C", staging, "-cf", tarFile, ...names], { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: { ...process.env, COPYFILE_DISABLE: "1" } });
    const [tarErr, tarCode] = await Promise.all([new Response(tar.stderr).text(), tar.exited]);
    if (tarCode !== 0) throw new UserError(`could not pack the agent's home for the bottle: ${lastLine(tarErr) ?? `tar exit ${tarCode}`}`);
    chmodSync(tarFile, 0o644);
    return tarFile;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

const NOTHING: BottleStart = { home: false, trust: false, relay: false };

export async function provisionBottle(bottle: Bottle, input: ProvisionInput & { homeTar?: string }): Promise<void> {
  const { spec } = input;
  const caFile = join(paths.caDir(input.stateDir), "ca.crt");
  if (!existsSync(caFile)) throw new UserError(`the bottle's CA certificate ${caFile} is missing; run 'claude-bottle down' and start again`);
  const ca = readFileSync(caFile, "utf8");
  const marker = caMarker(ca);
  if (spec.workspace.mode === "copy" && !spec.workspace.path) throw new UserError("workspace mode copy needs a path; run from your project or use workspace: none");
  const started = bottle.started ?? NOTHING;
  const homeTar = started.home ? null : (input.homeTar ?? (await stageHomeTar(input)));
  const homeNeeded = homeTar !== null || !started.relay || !started.trust;
  if (homeNeeded || spec.workspace.mode === "copy") input.progress("provisioning the bottle");
  const [home] = await Promise.all([
    homeNeeded ? homeStep(bottle, homeTar, marker) : Promise.resolve(0),
    spec.workspace.mode === "copy" ? copyWorkspace(bottle, spec.workspace.path!, input.progress) : Promise.resolve(),
    spec.workspace.mode === "copy" ? recordBaseTips(spec.workspace.path!, paths.baseTips(input.stateDir)) : Promise.resolve(),
  ]);
  if (home === NEEDS_TRUST) {
    input.progress("trusting the bottle's CA");
    const r = await bottle.run(trustStepArgv(marker), { user: GUEST_ROOT, input: ca });
    if (r.code !== 0) throw new UserError(`could not add the bottle's CA to the trust store in the bottle: ${lastLine(r.stderr) ?? `exit ${r.code}`}`);
  }
}

// The home step, with the home's tar as its stdin (null: the bottle started
// with its home, the step only waits and checks); returns its exit code
// when that is NEEDS_TRUST (0 otherwise), throws on anything else.
async function homeStep(bottle: Bottle, homeTar: string | null, marker: string): Promise<number> {
  const r = await bottle.run(homeStepArgv(marker, undefined, undefined, { tar: homeTar !== null }), {
    user: GUEST_USER,
    ...(homeTar !== null ? { input: Bun.file(homeTar).stream() } : {}),
  });
  if (r.code === 0 || r.code === NEEDS_TRUST) return r.code;
  if (r.code === RELAY_DOWN) throw new UserError(`the gate relay in bottle ${bottle.slug} did not start listening; the bottle's log may say why`);
  throw new UserError(`could not provision the agent's home in the bottle: ${lastLine(r.stderr) ?? `exit ${r.code}`}`);
}
