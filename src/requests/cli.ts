import { bottleHome } from "../state/paths.ts";
import { answerRequest } from "./answer.ts";

// Shared by `approve` and `reject`: answer, then say what happened in one line.
export function answerFromCli(id: string, decision: "approved" | "denied", note: string | undefined, allowPrivate: boolean | string[]): string {
  const r = answerRequest({ home: bottleHome(), id, decision, note: note ?? null, allowPrivate });
  const verb = decision === "approved" ? "approved" : "rejected";
  let line = `${verb} ${r.request.id}`;
  if (r.answer.applied) line += `: ${r.answer.applied}`;
  if (r.signal) line += r.signal.running ? `; gate ${r.signal.pid} reloaded` : "; takes effect when the bottle's gate starts";
  else if (decision === "approved" && r.request.kind !== "stuck") line += " (no change needed)";
  // The agent's call was closed before this answer: it will not read it. An
  // approved change still stands (it is in the live policy, kept for
  // resume), so the agent's next try gets through.
  if (r.goneAt) {
    line += `\nnote: the agent stopped waiting at ${r.goneAt} and was not told;`;
    line += decision === "approved" && r.signal ? " the change applies anyway: its next try gets through" : " nothing reaches it";
  }
  return line + "\n";
}
