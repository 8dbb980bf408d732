import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Bottle } from "../backends/types.ts";
import { UserError } from "../errors.ts";
import type { Spec } from "../manifest/spec.ts";
import { paths } from "../state/paths.ts";
import { GUEST_CA_FILE, GUEST_HOME, GUEST_PROMPT_FILE, GUEST_ROOT, GUEST_USER, GUEST_WORKSPACE } from "./guest.ts";
import { renderClaudeJson, renderClaudeSettings, renderGitconfig } from "./render.ts";
import { checkSkills, guestSkillDir } from "./skills.ts";
import { copyWorkspace, pointOriginAtGate } from "./workspace.ts";

// Provisioning a started bottle (DESIGN.md data flow step 6): the workspace
// copy, CA trust, prompt, skills, git URL rewrites, Claude settings, and the
// copy's origin pointed at the gate. Only through the Bottle interface, so
// any backend can run it.

// A bottle that can copy a host directory in as a given guest user (skills
// must belong to the agent, not to root).
export type ProvisionableBottle = Bottle & { copyIn(hostPath: string, guestPath: string, opts?: { user?: string }): Promise<void> };

async function writeGuestFile(bottle: Bottle, path: string, content: string, user: string, mode = "644"): Promise<void> {
  const r = await bottle.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"', "sh", path, mode], { user, input: content });
  if (r.code !== 0) throw new UserError(`could not write ${path} in the bottle: ${r.stderr.trim().split("\n").at(-1) ?? `exit ${r.code}`}`);
}

export interface ProvisionInput {
  spec: Spec;
  stateDir: string;
  hostEnv: Record<string, string | undefined>;
  progress: (s: string) => void;
}

export async function provisionBottle(bottle: ProvisionableBottle, input: ProvisionInput): Promise<void> {
  const { spec } = input;

  // The workspace first: everything after may assume /workspace is there.
  if (spec.workspace.mode === "copy") {
    if (!spec.workspace.path) throw new UserError("workspace mode copy needs a path; run from your project or use workspace: none");
    await copyWorkspace(bottle, spec.workspace.path, input.progress);
  }

  // CA trust: root writes the per-bottle CA into the system store. Root in
  // the container has no capabilities, but owns /usr/local/share and
  // /etc/ssl, so none are needed.
  input.progress("trusting the bottle's CA");
  const caFile = join(paths.caDir(input.stateDir), "ca.crt");
  if (!existsSync(caFile)) throw new UserError(`the bottle's CA certificate ${caFile} is missing; run 'claude-bottle down' and start again`);
  const ca = readFileSync(caFile, "utf8");
  const r = await bottle.run(["sh", "-c", 'cat > "$1" && chmod 644 "$1" && update-ca-certificates >/dev/null 2>&1', "sh", GUEST_CA_FILE], { user: GUEST_ROOT, input: ca });
  if (r.code !== 0) throw new UserError(`update-ca-certificates failed in the bottle (exit ${r.code}); does the image have ca-certificates?`);

  if (spec.prompt.trim().length > 0) await writeGuestFile(bottle, GUEST_PROMPT_FILE, spec.prompt, GUEST_USER);

  const skillDirs = checkSkills(spec, input.hostEnv);
  for (const [i, name] of spec.skills.entries()) {
    input.progress(`copying skill ${name}`);
    await bottle.copyIn(skillDirs[i]!, guestSkillDir(name), { user: GUEST_USER });
  }

  const ws = spec.workspace.mode === "none" ? null : GUEST_WORKSPACE;
  await writeGuestFile(bottle, `${GUEST_HOME}/.gitconfig`, renderGitconfig(spec.git, ws), GUEST_USER);
  await writeGuestFile(bottle, `${GUEST_HOME}/.claude/settings.json`, renderClaudeSettings(), GUEST_USER, "600");
  await writeGuestFile(bottle, `${GUEST_HOME}/.claude.json`, renderClaudeJson(spec.supervise), GUEST_USER, "600");

  // Last: git in the copy now sees the gitconfig written above.
  await pointOriginAtGate(bottle, spec.workspace.mode);
}
