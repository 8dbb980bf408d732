import type { Spec } from "../manifest/spec.ts";
import { isStopping, markPreserved } from "../state/dirs.ts";
import { updateMetadata } from "../state/metadata.ts";
import { paths } from "../state/paths.ts";
import { removeQuietly } from "../state/process.ts";
import { agentArgv } from "./agent.ts";
import { SIGNAL_EXIT } from "./signals.ts";

// What of the launcher's dependencies the end of a session uses.
export interface SettleDeps {
  err: (line: string) => void;
  tty: boolean;
  hostEnv: Record<string, string | undefined>;
}

// In a terminal, an interactive agent reads Ctrl-C as a key once it has
// taken the terminal (Claude Code leaves with exit 0 after two). An agent
// that dies of the SIGINT (exit 130) got it before it was ready: the user
// left during the launch, and there is nothing to resume.
export function interruptedBeforeReady(code: number, tty: boolean): boolean {
  return tty && code === SIGNAL_EXIT.SIGINT;
}

// Whether the session's state goes: the user left (exit 0, or Ctrl-C before
// the agent was ready). Anything else keeps it for `resume`, and so does a
// Ctrl-C during a `resume` (what was kept before stays, as when the resume's
// launch itself is interrupted).
export function sessionLeft(code: number, tty: boolean, resuming: boolean): boolean {
  return code === 0 || (!resuming && interruptedBeforeReady(code, tty));
}

// The end of a session: the user left -> the state goes (the undo of
// "state" removes it); anything else -> keep it for `resume` and say how.
export async function settle(stateDir: string, slug: string, code: number, resuming: boolean, deps: SettleDeps): Promise<void> {
  if (isStopping(stateDir)) {
    // `down` (or `cleanup`) is taking this bottle away: nothing to keep.
    deps.err(`claude-bottle: ${slug} was stopped from outside (exit ${code})`);
    return;
  }
  if (sessionLeft(code, deps.tty, resuming)) {
    removeQuietly(paths.preserve(stateDir));
    if (code !== 0) deps.err(`claude-bottle: interrupted before the agent was ready; ${slug} is removed, nothing kept`);
    return;
  }
  updateMetadata(stateDir, { status: "exited", exit_code: code, owner_pid: null });
  markPreserved(stateDir, `agent exited with code ${code}`);
  deps.err(`claude-bottle: the agent exited with code ${code}; state kept in ${stateDir}`);
  deps.err(`  why:     claude-bottle logs ${slug}   (what the gate allowed and refused)`);
  deps.err(`  resume:  claude-bottle resume ${slug}   (same policy and CA, in a new bottle)`);
  deps.err(`  discard: claude-bottle down ${slug}`);
}

// Claude Code ends an interactive session with "Resume this session with:
// claude --resume <id>", a command for inside the bottle, which is gone by
// now. Say what resuming means here.
export function explainAgentResumeHint(spec: Spec, slug: string, code: number, deps: SettleDeps): void {
  if (!deps.tty || interruptedBeforeReady(code, deps.tty) || agentArgv(spec, deps.hostEnv)[0] !== "claude") return;
  deps.err(
    code === 0
      ? "claude-bottle: the session ended and its bottle is gone (a 'claude --resume' line from Claude Code was for inside the bottle; start anew with claude-bottle up)"
      : `claude-bottle: a 'claude --resume' line from Claude Code was for inside the bottle; resume this one with: claude-bottle resume ${slug}`,
  );
}
