import { basename, dirname } from "node:path";
import { readPolicy } from "../gate/policy/file.ts";
import type { GatePolicy, VhostHandler } from "../gate/types.ts";
import type { VhostFactory } from "../gate/vhosts/index.ts";
import { bottleHome } from "../state/paths.ts";
import { approvalVisible } from "./apply.ts";
import { auditSupervise } from "./audit.ts";
import { handleMessage, RPC, SUPPORTED_PROTOCOL_VERSIONS, type RpcResponse, type ToolResult } from "./mcp.ts";
import type { Answer, SuperviseRequest } from "./schema.ts";
import { claimAnswer, createRequest, markGone, pendingRequests, readAnswer, waitForAnswer } from "./store.ts";
import { answerText, isToolName, parseToolCall, summarize } from "./tools.ts";
import { cleanLine } from "./sanitize.ts";

// supervise.bottle.internal: an MCP server (streamable HTTP, JSON responses)
// through which the agent asks the operator for egress, a git rule change,
// or help. A tool call queues a request file on the host and holds the HTTP
// response until the operator answers (`claude-bottle approve|reject`, the
// dashboard) or the timeout passes, which the agent reads as "denied".

export const SUPERVISE_HOST = "supervise.bottle.internal";
export const MCP_PATH = "/mcp";
export const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const MAX_BODY = 256 * 1024;
// An agent cannot make the host hold more open requests than this.
const MAX_PENDING = 8;
// After an approval, how long to wait for the gate's reload to show it.
const RELOAD_WAIT_MS = 5000;
// Keep-alive period of a streamed tools/call (see eventStream).
const KEEPALIVE_MS = 15_000;

export interface SuperviseOptions {
  stateDir: string;
  slug: string;
  home: string;
  timeoutMs?: number;
  // The policy the gate enforces right now. Default: policy.json on disk.
  livePolicy?: () => GatePolicy;
  log?: (msg: string) => void;
  pollMs?: number;
  maxPending?: number;
  keepaliveMs?: number;
}

export function createSuperviseVhost(opts: SuperviseOptions): VhostHandler {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const livePolicy = opts.livePolicy ?? (() => readPolicy(opts.stateDir));
  const log = opts.log ?? (() => {});
  const maxPending = opts.maxPending ?? MAX_PENDING;
  const keepaliveMs = opts.keepaliveMs ?? KEEPALIVE_MS;

  // The agent closed a call that was still waiting: the request stays
  // answerable, and whoever answers it is told the agent will not read it.
  function abandoned(req: SuperviseRequest): void {
    if (readAnswer(opts.home, req.id)) return;
    markGone(opts.home, req.id);
    auditSupervise(opts.stateDir, req, "GONE", `the agent stopped waiting for the answer: ${cleanLine(summarize(req)).slice(0, 200)}`);
    log(`supervise: request ${req.id}: the agent stopped waiting`);
  }

  async function callTool(name: string, args: unknown, onQueued?: (req: SuperviseRequest) => void): Promise<ToolResult> {
    const result = (text: string, isError = false): ToolResult => ({ content: [{ type: "text", text }], isError });
    if (!isToolName(name)) return result(`unknown tool '${name}'`, true);
    const parsed = parseToolCall(name, args, livePolicy());
    if (!parsed.ok) return result(parsed.error, true);
    if (pendingRequests(opts.home).filter((e) => e.request.slug === opts.slug).length >= maxPending) {
      return result(`too many requests are waiting for the operator (${maxPending}); wait for their answers first`, true);
    }
    const req = createRequest(opts.home, { ...parsed.draft, slug: opts.slug }, timeoutMs);
    onQueued?.(req);
    const what = cleanLine(summarize(req)).slice(0, 200);
    auditSupervise(opts.stateDir, req, "REQUEST", `waiting for the operator: ${what}`);
    log(`supervise: request ${req.id} queued (${req.kind})`);

    let answer: Answer | null = await waitForAnswer(opts.home, req.id, timeoutMs, opts.pollMs);
    if (!answer) {
      const claim = claimAnswer(opts.home, {
        version: 1,
        id: req.id,
        decision: "timeout",
        note: null,
        answered_at: new Date().toISOString(),
        applied: null,
      });
      // The operator may have answered in the very last moment: theirs wins.
      answer = claim.ok ? claim.answer : claim.existing;
      if (claim.ok) auditSupervise(opts.stateDir, req, "TIMEOUT", `no answer within ${Math.round(timeoutMs / 1000)} s: ${what}`);
    }
    if (!answer) return result(`request ${req.id}: the answer could not be read; treat as denied`, true);
    log(`supervise: request ${req.id} answered (${answer.decision})`);
    if (answer.decision === "approved") await visible(req, livePolicy);
    return result(answerText(req, answer, timeoutMs).text);
  }

  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname !== MCP_PATH && url.pathname !== "/") return text(404, `not found: the MCP endpoint is ${MCP_PATH}\n`);
    // No server-initiated stream and no sessions: GET (SSE) and DELETE are
    // not offered, as the transport allows.
    if (req.method !== "POST") return text(405, "method not allowed: POST JSON-RPC to this endpoint\n", { allow: "POST" });
    const pv = req.headers.get("mcp-protocol-version");
    const pvUnsupported = pv !== null && !(SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(pv);
    const ct = req.headers.get("content-type") ?? "";
    if (!/^application\/json\b/i.test(ct)) return text(415, "content-type must be application/json\n");
    const body = await readBounded(req, MAX_BODY);
    if (body === null) return json(413, rpcError(RPC.invalidRequest, `request body over ${MAX_BODY} bytes`));
    let msg: unknown;
    try {
      msg = JSON.parse(body);
    } catch {
      return json(400, rpcError(RPC.parseError, "parse error"));
    }
    // The version is negotiated by `initialize` itself (MCP lifecycle: the
    // server answers with a version it supports, its latest when it does
    // not know the client's, and the client decides whether to go on). A
    // client that puts its own newest version in the header of that first
    // request is not wrong, so only later requests are held to the header.
    if (pvUnsupported && !carriesInitialize(msg)) {
      return json(400, rpcError(RPC.invalidRequest, `unsupported MCP-Protocol-Version ${cleanLine(pv!).slice(0, 40)}`));
    }
    try {
      if (Array.isArray(msg)) {
        // Batches (2025-03-26): answer the requests, skip notifications.
        if (msg.length === 0 || msg.length > 16) return json(400, rpcError(RPC.invalidRequest, "a batch holds 1 to 16 messages"));
        const out = (await Promise.all(msg.map((m) => handleMessage(m, callTool)))).filter((r): r is RpcResponse => r !== null);
        return out.length ? json(200, out) : new Response(null, { status: 202 });
      }
      if (isToolsCall(msg) && acceptsEventStream(req)) {
        let queued: SuperviseRequest | null = null;
        const track = (name: string, args: unknown) => callTool(name, args, (r) => (queued = r));
        return eventStream(msg, track, keepaliveMs, log, () => {
          if (queued) abandoned(queued);
        });
      }
      const res = await handleMessage(msg, callTool);
      return res ? json(200, res) : new Response(null, { status: 202 });
    } catch (e) {
      log(`supervise: ${(e as Error).message}`);
      return json(500, rpcError(RPC.internal, "internal error"));
    }
  };
}

function isToolsCall(msg: unknown): msg is { id: string | number; method: "tools/call"; params?: { _meta?: { progressToken?: unknown } } } {
  const m = msg as { jsonrpc?: unknown; method?: unknown; id?: unknown };
  return typeof m === "object" && m !== null && m.jsonrpc === "2.0" && m.method === "tools/call" && (typeof m.id === "string" || typeof m.id === "number");
}

// The requests that open a session and negotiate the version, so their
// header cannot be held to a version yet: `initialize`, and `server/discover`,
// the probe a 2026-07-28 client (Claude Code 2.1.330) sends first with its
// own version. The probe then gets "method not found" with its id echoed,
// which such a client reads as "an older server" and goes on with
// `initialize` (a 400 with no id made it log a probe error first).
const NEGOTIATING = new Set(["initialize", "server/discover"]);

function carriesInitialize(msg: unknown): boolean {
  const one = (m: unknown) => typeof m === "object" && m !== null && NEGOTIATING.has((m as { method?: unknown }).method as string);
  return Array.isArray(msg) ? msg.some(one) : one(msg);
}

function acceptsEventStream(req: Request): boolean {
  return /\btext\/event-stream\b/i.test(req.headers.get("accept") ?? "");
}

// A tools/call waits for a human, up to minutes. Sent as one JSON body, the
// response headers would come only with the answer, and HTTP clients give
// up long before (Node's fetch waits 300 s for headers by default). So when
// the client accepts an event stream (the MCP clients do), the headers go
// out at once, a comment (or a notifications/progress, if the call carried
// a progressToken) every KEEPALIVE_MS keeps the connection busy, and the
// result follows as the stream's one message event. Clients that accept
// only JSON get plain JSON.
function eventStream(
  msg: { id: string | number; params?: { _meta?: { progressToken?: unknown } } },
  callTool: Parameters<typeof handleMessage>[1],
  keepaliveMs: number,
  log: (m: string) => void,
  onGone: () => void,
): Response {
  const token = msg.params?._meta?.progressToken;
  const hasToken = typeof token === "string" || typeof token === "number";
  const enc = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | null = null;
  let open = true;
  const started = Date.now();
  const body = new ReadableStream<Uint8Array>({
    start(ctrl) {
      const send = (s: string) => {
        if (!open) return;
        try {
          ctrl.enqueue(enc.encode(s));
        } catch {
          open = false;
        }
      };
      send(": waiting for the operator\n\n");
      timer = setInterval(() => {
        const secs = Math.round((Date.now() - started) / 1000);
        if (hasToken) {
          const note = { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: token, progress: secs, message: `waiting for the operator (${secs} s)` } };
          send(`event: message\ndata: ${JSON.stringify(note)}\n\n`);
        } else send(`: still waiting (${secs} s)\n\n`);
      }, keepaliveMs);
      handleMessage(msg, callTool)
        .catch((e) => {
          log(`supervise: ${(e as Error).message}`);
          return { jsonrpc: "2.0" as const, id: msg.id, error: { code: RPC.internal, message: "internal error" } };
        })
        .then((res) => {
          if (timer) clearInterval(timer);
          send(`event: message\ndata: ${JSON.stringify(res)}\n\n`);
          if (open) {
            open = false;
            ctrl.close();
          }
        });
    },
    cancel() {
      // The client went away before the answer; the request stays queued
      // until its timeout, marked as no longer awaited.
      const wasOpen = open;
      open = false;
      if (timer) clearInterval(timer);
      if (wasOpen) onGone();
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
}

// Holds an approval until the gate's live policy carries it (the operator
// writes policy.json and sends SIGHUP right after answering), bounded.
async function visible(req: Parameters<typeof approvalVisible>[0], livePolicy: () => GatePolicy): Promise<void> {
  const until = Date.now() + RELOAD_WAIT_MS;
  for (let first = true; Date.now() < until; first = false) {
    try {
      if (approvalVisible(req, livePolicy())) {
        // Seen while the gate was still swapping generations: let it finish.
        if (!first) await Bun.sleep(25);
        return;
      }
    } catch {
      /* a policy being rewritten: try again */
    }
    await Bun.sleep(50);
  }
}

function rpcError(code: number, message: string) {
  return { jsonrpc: "2.0", id: null, error: { code, message } };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

async function readBounded(req: Request, max: number): Promise<string | null> {
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    n += r.value.length;
    if (n > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(r.value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

// <home>/state/<slug> is the standard layout; a gate started on another
// directory falls back to CLAUDE_BOTTLE_HOME / ~/.claude-bottle.
export function homeOf(stateDir: string, env: Record<string, string | undefined> = process.env): string {
  return basename(dirname(stateDir)) === "state" ? dirname(dirname(stateDir)) : bottleHome(env);
}

export function timeoutFromEnv(env: Record<string, string | undefined> = process.env): number {
  const raw = env.CLAUDE_BOTTLE_SUPERVISE_TIMEOUT;
  if (!raw) return DEFAULT_TIMEOUT_MS;
  const s = Number(raw);
  return Number.isFinite(s) && s > 0 ? Math.round(s * 1000) : DEFAULT_TIMEOUT_MS;
}

// The gate builds a new handler per policy generation (start and every
// SIGHUP). A call still waiting in an older handler must see the newest
// policy the gate enforces, so the latest one per state dir is kept here.
// The gate swaps generations right after its factories return; the short
// sleeps in visible() cover that gap.
const latest = new Map<string, GatePolicy>();

export const superviseVhostFactory: VhostFactory = (ctx) => {
  latest.set(ctx.stateDir, ctx.policy);
  if (!ctx.policy.supervise) return null;
  return createSuperviseVhost({
    stateDir: ctx.stateDir,
    slug: ctx.policy.slug,
    home: homeOf(ctx.stateDir),
    timeoutMs: timeoutFromEnv(),
    livePolicy: () => latest.get(ctx.stateDir) ?? ctx.policy,
    log: ctx.log,
  });
};
