import { chmodSync, cpSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GUEST_HOME, GUEST_PROMPT_FILE, GUEST_WORKSPACE } from "../backends/guest.ts";
import type { Spec } from "../manifest/spec.ts";
import { renderClaudeJson, renderClaudeSettings } from "./claude-config.ts";
import { renderGitconfig } from "./render.ts";
import { guestSkillDir } from "./skills.ts";

// Everything the agent's home gets, laid out on the host in a staging
// directory that stands for /home/node: one tar of it goes into the bottle
// in a single exec (each exec costs a docker or smolvm round trip).

export interface HomeFile {
  // Relative to the guest home.
  path: string;
  content: string;
  mode: number;
}

const rel = (guestPath: string) => {
  if (!guestPath.startsWith(`${GUEST_HOME}/`)) throw new Error(`${guestPath} is not in ${GUEST_HOME}`);
  return guestPath.slice(GUEST_HOME.length + 1);
};

// What the home needs beyond the spec: the placeholder the bottle holds in
// ANTHROPIC_API_KEY (Claude Code's config approves it), if any.
export interface HomeExtras {
  apiKeyPlaceholder: string | null;
}

// Pure: the generated files, with the modes they must have in the bottle.
export function homeFiles(spec: Spec, extras: HomeExtras = { apiKeyPlaceholder: null }): HomeFile[] {
  const ws = spec.workspace.mode === "none" ? null : GUEST_WORKSPACE;
  const files: HomeFile[] = [];
  if (spec.prompt.trim().length > 0) files.push({ path: rel(GUEST_PROMPT_FILE), content: spec.prompt, mode: 0o644 });
  files.push(
    { path: ".gitconfig", content: renderGitconfig(spec.git, ws), mode: 0o644 },
    // Settings hold no secret, but nothing else in the bottle needs them.
    { path: ".claude/settings.json", content: renderClaudeSettings(), mode: 0o600 },
    { path: ".claude.json", content: renderClaudeJson({ supervise: spec.supervise, apiKeyPlaceholder: extras.apiKeyPlaceholder }), mode: 0o600 },
  );
  return files;
}

// Writes the staging tree: generated files and the skills (copied with
// their symlinks as links: a link in a skill must never pull a host file
// such as a key into the bottle). Directories get 0755 explicitly, whatever
// the umask: tar applies their modes to the guest's existing directories.
// Returns the top-level names to put in the tar (never "." itself, whose
// mode would land on the guest home).
export function stageHome(dir: string, spec: Spec, skillDirs: string[], extras?: HomeExtras): string[] {
  const mkdir = (d: string) => {
    mkdirSync(d, { recursive: true });
    for (let p = d; p.length > dir.length; p = join(p, "..")) chmodSync(p, 0o755);
  };
  for (const f of homeFiles(spec, extras)) {
    const to = join(dir, f.path);
    mkdir(join(to, ".."));
    writeFileSync(to, f.content, { mode: f.mode });
    chmodSync(to, f.mode);
  }
  for (const [i, name] of spec.skills.entries()) {
    const to = join(dir, rel(guestSkillDir(name)));
    mkdir(join(to, ".."));
    cpSync(skillDirs[i]!, to, { recursive: true, verbatimSymlinks: true });
  }
  return readdirSync(dir).sort();
}
