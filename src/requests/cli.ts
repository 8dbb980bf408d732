import { bottleHome } from "../state/paths.ts";
import { answerRequest } from "./answer.ts";

// Shared by `approve` and `reject`: answer, then say what happened in one line.
export function answerFromCli(id: string, decision: "approved" | "denied", note: string | undefined, allowPrivate: boolean): string {
  const r = answerRequest({ home: bottleHome(), id, decision, note: note ?? null, allowPrivate });
  const verb = decision === "approved" ? "approved" : "rejected";
  let line = `${verb} ${r.request.id}`;
  if (r.answer.applied) line += `: ${r.answer.applied}`;
  if (r.signal) line += r.signal.running ? `; gate ${r.signal.pid} reloaded` : "; takes effect when the bottle's gate starts";
  else if (decision === "approved" && r.request.kind !== "stuck") line += " (no change needed)";
  return line + "\n";
}
