import { existsSync } from "node:fs";
import { UserError } from "../errors.ts";
import { readPolicy } from "../gate/policy/file.ts";
import { applyEdit, type SignalResult } from "../policy/store.ts";
import { paths } from "../state/paths.ts";
import { planApproval, type ApproveOptions } from "./apply.ts";
import { auditSupervise } from "./audit.ts";
import { LIMITS, REQUEST_ID_RE, type Answer, type SuperviseRequest } from "./schema.ts";
import { claimAnswer, goneAt, readAnswer, readRequest, statusOf } from "./store.ts";
import { summarize } from "./tools.ts";
import { cleanLine } from "./sanitize.ts";

// The operator's side of a request (`approve`, `reject`, the dashboard).
//
// Order matters. The approval is computed against the current policy first
// (so a request that cannot be applied is refused before anyone is told
// "approved"), then the answer is claimed (exactly one answer wins: if the
// call timed out a moment ago, nothing is applied), then policy.json and
// spec.json are written and the gate is sent SIGHUP. The gate side holds
// the agent's "approved" until its live policy shows the change.

export interface AnswerInput extends ApproveOptions {
  home: string;
  id: string;
  decision: "approved" | "denied";
  note?: string | null;
  now?: Date;
}

export interface AnswerResult {
  request: SuperviseRequest;
  answer: Answer;
  // Approved egress/git change: whether a running gate was told.
  signal: SignalResult | null;
  // When the agent stopped waiting for this answer (it will not read it),
  // or null while it still waits.
  goneAt: string | null;
}

export function answerRequest(input: AnswerInput): AnswerResult {
  const { home, id } = input;
  if (!REQUEST_ID_RE.test(id)) throw new UserError(`'${id}' is not a request id; 'claude-bottle requests' lists them`);
  const request = readRequest(home, id);
  if (!request) throw new UserError(`no request ${id}; 'claude-bottle requests' lists the pending ones`);
  const note = input.note?.trim() ? input.note.trim() : null;
  if (note && note.length > LIMITS.note) throw new UserError(`--note is too long (max ${LIMITS.note} characters)`);
  const now = input.now ?? new Date();
  const status = statusOf(request, readAnswer(home, id), now);
  // Too late: the agent was told "no answer, treat as denied". The change
  // is not made behind its back; the operator can still make it by hand.
  const byHand = request.kind === "egress" ? `; to allow it now: claude-bottle allow ${request.slug} ${cleanLine(request.egress.host).slice(0, 260)}` : "";
  if (status === "expired") throw new UserError(`request ${id} expired at ${request.expires_at}: the agent was already told nobody answered${byHand}`);
  if (status === "timeout") throw new UserError(`request ${id} timed out: the agent was already told nobody answered${byHand}`);
  if (status !== "pending") throw new UserError(`request ${id} was already answered (${status})`);

  const stateDir = paths.stateDir(home, request.slug);
  const changesPolicy = input.decision === "approved" && request.kind !== "stuck";
  if (changesPolicy && !existsSync(paths.policy(stateDir))) {
    throw new UserError(`bottle ${request.slug} has no state any more (${paths.policy(stateDir)}); reject the request instead`);
  }
  // Dry run of the edit: throws a UserError when it cannot be applied.
  const planned = changesPolicy ? planApproval(request, readPolicy(stateDir), input) : null;

  const claim = claimAnswer(home, {
    version: 1,
    id,
    decision: input.decision,
    note,
    answered_at: now.toISOString(),
    applied: planned ? planned.applied : null,
  });
  if (!claim.ok) {
    throw new UserError(`request ${id} was already answered (${claim.existing?.decision ?? "unknown"}); nothing was changed`);
  }

  let signal: SignalResult | null = null;
  // policy.json is the bottle's live policy, and `resume` starts from it,
  // so the approval survives a resume without being written anywhere else.
  if (changesPolicy) {
    const r = applyEdit(stateDir, (p) => planApproval(request, p, input), (e) => e.changed);
    signal = r.signal;
  }
  const what = cleanLine(summarize(request)).slice(0, 200);
  auditSupervise(
    stateDir,
    request,
    input.decision === "approved" ? "APPROVE" : "REJECT",
    `${input.decision === "approved" ? "approved" : "rejected"} by the operator: ${what}${note ? ` (note: ${cleanLine(note).slice(0, 200)})` : ""}`,
  );
  return { request, answer: claim.answer, signal, goneAt: goneAt(home, id) };
}
