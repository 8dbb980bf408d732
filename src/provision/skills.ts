import { statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import type { Spec } from "../manifest/spec.ts";
import { GUEST_HOME } from "../backends/guest.ts";

// Skills named in `skills:` come from the host user's ~/.claude/skills/<name>
// and land at the same place in the guest's home.

export function hostSkillDir(name: string, hostEnv: Record<string, string | undefined>): string {
  const home = hostEnv.HOME && hostEnv.HOME.length > 0 ? hostEnv.HOME : homedir();
  return join(home, ".claude", "skills", name);
}

export function guestSkillDir(name: string): string {
  return `${GUEST_HOME}/.claude/skills/${name}`;
}

// Checked before anything is created: a typo in `skills:` must not leave a
// half-provisioned bottle behind.
export function checkSkills(spec: Spec, hostEnv: Record<string, string | undefined>): string[] {
  return spec.skills.map((name) => {
    const dir = hostSkillDir(name, hostEnv);
    let ok = false;
    try {
      ok = statSync(dir).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) throw new UserError(`skill ${name} not found: ${dir} is not a directory; install the skill there or remove it from agent ${spec.agent}`);
    return dir;
  });
}
