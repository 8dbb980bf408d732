// Shared set-up for the supervise tests: a bottle home with one state dir
// and policy.json, JSON-RPC helpers, the real CLI in a child process.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writePolicy } from "../../../src/policy/store.ts";
import type { AuditRecord, GatePolicy, VhostHandler } from "../../../src/gate/types.ts";
import { pendingRequests } from "../../../src/requests/store.ts";

export const REPO = join(import.meta.dir, "..", "..", "..");
export const CLI = join(REPO, "src", "cli.ts");

export interface Home {
  home: string;
  slug: string;
  stateDir: string;
  cleanup(): void;
}

export function makeHome(slug = "claude-ab12c", policy: Partial<GatePolicy> = {}): Home {
  const home = mkdtempSync(join(tmpdir(), "cb-supervise-"));
  const stateDir = join(home, "state", slug);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writePolicy(stateDir, {
    version: 1,
    slug,
    routes: [],
    git: [{ name: "origin", url: "https://example.invalid/r.git", branches: ["main"], allow_force: false, allow_delete: false }],
    supervise: true,
    placeholders: {},
    ...policy,
  });
  return { home, slug, stateDir, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

export function readPolicyJson(stateDir: string): GatePolicy {
  return JSON.parse(readFileSync(join(stateDir, "policy.json"), "utf8")) as GatePolicy;
}

export function auditLines(stateDir: string): AuditRecord[] {
  try {
    return readFileSync(join(stateDir, "audit.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditRecord);
  } catch {
    return [];
  }
}

let nextId = 1;
export function rpcBody(method: string, params?: unknown, notification = false): string {
  return JSON.stringify({ jsonrpc: "2.0", ...(notification ? {} : { id: nextId++ }), method, ...(params === undefined ? {} : { params }) });
}

// JSON-only client by default; pass an accept header with text/event-stream
// for the streamed form.
export async function post(handler: VhostHandler, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return handler(
    new Request("http://supervise.bottle.internal/mcp", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...headers },
      body,
    }),
  );
}

export async function callTool(handler: VhostHandler, name: string, args: unknown): Promise<{ text: string; isError: boolean }> {
  const res = await post(handler, rpcBody("tools/call", { name, arguments: args }), { "mcp-protocol-version": "2025-06-18" });
  if (res.status !== 200) throw new Error(`tools/call: HTTP ${res.status}`);
  const j = (await res.json()) as { result: { content: { text: string }[]; isError: boolean } };
  return { text: j.result.content[0]!.text, isError: j.result.isError };
}

// The one pending request of the home, once the tool call has queued it.
export async function waitForPending(home: string, timeoutMs = 10_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const p = pendingRequests(home);
    if (p.length > 0) return p[0]!.request.id;
    await Bun.sleep(50);
  }
  throw new Error("no request was queued");
}

// The real CLI, as an operator in another terminal would run it.
export async function cli(home: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([process.execPath, CLI, ...args], {
    env: { ...process.env, CLAUDE_BOTTLE_HOME: home },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

// The JSON-RPC response in a body that is either plain JSON or an event
// stream (the last `data:` line that carries a result or an error).
export function rpcResult(body: string): { result?: { content: { text: string }[]; isError: boolean }; error?: { code: number } } {
  const t = body.trim();
  if (t.startsWith("{")) return JSON.parse(t);
  const datas = t
    .split("\n")
    .filter((l) => l.startsWith("data: "))
    .map((l) => JSON.parse(l.slice(6)))
    .filter((m) => "result" in m || "error" in m);
  if (datas.length !== 1) throw new Error(`expected one result event in:\n${body}`);
  return datas[0];
}
