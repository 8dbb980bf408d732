import { chmodSync, closeSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, watch, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { randomSuffix } from "../state/slug.ts";
import { answerSchema, requestSchema, REQUEST_ID_RE, type Answer, type SuperviseRequest } from "./schema.ts";

// The request queue on the host: <home>/requests/<id>.json written by the
// gate (one per tool call), <id>.answer.json written by whoever answers
// first: the operator (`approve`/`reject`, the dashboard) or the gate when
// the call times out. An answer is created with link(2), which fails when
// the name exists, so exactly one answer ever lands and both sides agree on
// it (an operator who approves just as the call times out is told so).

export const requestsDir = (home: string) => join(home, "requests");
const requestFile = (home: string, id: string) => join(requestsDir(home), `${id}.json`);
const answerFile = (home: string, id: string) => join(requestsDir(home), `${id}.answer.json`);
const goneFile = (home: string, id: string) => join(requestsDir(home), `${id}.gone`);

export function ensureRequestsDir(home: string): string {
  const dir = requestsDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is masked by the umask and ignored for an existing dir.
  chmodSync(dir, 0o700);
  return dir;
}

export type RequestDraft = DistributiveOmit<SuperviseRequest, "version" | "id" | "created_at" | "expires_at">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

// Creates <id>.json with a fresh id (`<slug>-<4 base36>`), exclusively.
export function createRequest(home: string, draft: RequestDraft, timeoutMs: number, now = new Date()): SuperviseRequest {
  ensureRequestsDir(home);
  for (let attempt = 0; attempt < 64; attempt++) {
    const id = `${draft.slug}-${randomSuffix().slice(0, 4)}`;
    const req = requestSchema.parse({
      ...draft,
      version: 1,
      id,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + timeoutMs).toISOString(),
    });
    let fd: number;
    try {
      fd = openSync(requestFile(home, id), "wx", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw e;
    }
    try {
      writeSync(fd, JSON.stringify(req, null, 2) + "\n");
    } finally {
      closeSync(fd);
    }
    return req;
  }
  throw new Error(`could not find a free request id for ${draft.slug}`);
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

export function readRequest(home: string, id: string): SuperviseRequest | null {
  if (!REQUEST_ID_RE.test(id)) return null;
  const r = requestSchema.safeParse(readJson(requestFile(home, id)));
  return r.success && r.data.id === id ? r.data : null;
}

export function readAnswer(home: string, id: string): Answer | null {
  if (!REQUEST_ID_RE.test(id)) return null;
  const r = answerSchema.safeParse(readJson(answerFile(home, id)));
  return r.success && r.data.id === id ? r.data : null;
}

export type RequestStatus = "pending" | "expired" | Answer["decision"];

export interface RequestEntry {
  request: SuperviseRequest;
  answer: Answer | null;
  status: RequestStatus;
}

export function statusOf(req: SuperviseRequest, answer: Answer | null, now: Date): RequestStatus {
  if (answer) return answer.decision;
  return Date.parse(req.expires_at) <= now.getTime() ? "expired" : "pending";
}

// Every readable request, oldest first. Unreadable or foreign files are
// skipped: the directory is ours, but a listing must not die on one bad file.
export function listRequests(home: string, now = new Date()): RequestEntry[] {
  let names: string[];
  try {
    names = readdirSync(requestsDir(home));
  } catch {
    return [];
  }
  const out: RequestEntry[] = [];
  for (const n of names) {
    if (!n.endsWith(".json") || n.endsWith(".answer.json") || n.startsWith(".")) continue;
    const request = readRequest(home, n.slice(0, -".json".length));
    if (!request) continue;
    const answer = readAnswer(home, request.id);
    out.push({ request, answer, status: statusOf(request, answer, now) });
  }
  return out.sort((a, b) => a.request.created_at.localeCompare(b.request.created_at) || a.request.id.localeCompare(b.request.id));
}

export function pendingRequests(home: string, now = new Date()): RequestEntry[] {
  return listRequests(home, now).filter((e) => e.status === "pending");
}

export type ClaimResult = { ok: true; answer: Answer } | { ok: false; existing: Answer | null };

// Writes <id>.answer.json unless an answer is already there. The content goes
// to a private temp name first and is then linked into place, so a reader
// never sees half an answer and a second writer never overwrites the first.
export function claimAnswer(home: string, answer: Answer): ClaimResult {
  const valid = answerSchema.parse(answer);
  const dir = ensureRequestsDir(home);
  const tmp = join(dir, `.${valid.id}.answer.${process.pid}.${randomSuffix()}.tmp`);
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, JSON.stringify(valid, null, 2) + "\n");
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, answerFile(home, valid.id));
    return { ok: true, answer: valid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return { ok: false, existing: readAnswer(home, valid.id) };
    throw e;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
  }
}

// Resolves with the answer as soon as it lands, or null after `timeoutMs`.
// fs.watch makes it prompt; the poll covers filesystems without change
// events (and a watcher that could not be set up at all).
export function waitForAnswer(home: string, id: string, timeoutMs: number, pollMs = 500): Promise<Answer | null> {
  return new Promise((resolve) => {
    let done = false;
    let watcher: ReturnType<typeof watch> | null = null;
    const finish = (a: Answer | null) => {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearTimeout(deadline);
      watcher?.close();
      resolve(a);
    };
    const check = () => {
      const a = readAnswer(home, id);
      if (a) finish(a);
    };
    const poll = setInterval(check, pollMs);
    const deadline = setTimeout(() => finish(readAnswer(home, id)), Math.max(0, timeoutMs));
    try {
      watcher = watch(requestsDir(home), (_event, name) => {
        if (!name || String(name) === `${id}.answer.json`) check();
      });
      watcher.on("error", () => {
        watcher?.close();
        watcher = null;
      });
    } catch {
      watcher = null;
    }
    check();
  });
}

// Answered and expired requests are kept a while as history (`requests
// --all`), then removed by the operator-side commands so the directory does
// not grow without bound.
export const KEEP_MS = 7 * 24 * 3600 * 1000;

export function pruneRequests(home: string, now = new Date(), keepMs = KEEP_MS): number {
  let removed = 0;
  for (const e of listRequests(home, now)) {
    if (e.status === "pending") continue;
    const last = Math.max(Date.parse(e.request.expires_at), e.answer ? Date.parse(e.answer.answered_at) : 0);
    if (now.getTime() - last < keepMs) continue;
    for (const f of [answerFile(home, e.request.id), goneFile(home, e.request.id), requestFile(home, e.request.id)]) {
      try {
        unlinkSync(f);
      } catch {
        /* already gone */
      }
    }
    removed++;
  }
  return removed;
}

// <id>.gone: the agent closed its tool call before an answer came (its MCP
// client stopped waiting). The request stays answerable, but whoever answers
// is told that the agent will not read the answer. Holds the time, nothing else.
export function markGone(home: string, id: string, now = new Date()): void {
  if (!REQUEST_ID_RE.test(id)) return;
  try {
    writeFileSync(goneFile(home, id), now.toISOString() + "\n", { mode: 0o600, flag: "wx" });
  } catch {
    /* already marked, or the queue is gone with its bottle */
  }
}

export function goneAt(home: string, id: string): string | null {
  if (!REQUEST_ID_RE.test(id)) return null;
  try {
    const t = readFileSync(goneFile(home, id), "utf8").trim();
    return Number.isNaN(Date.parse(t)) ? null : t;
  } catch {
    return null;
  }
}
