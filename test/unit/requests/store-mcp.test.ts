import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { handleMessage, type CallTool } from "../../../src/requests/mcp.ts";
import { claimAnswer, createRequest, listRequests, pruneRequests, waitForAnswer } from "../../../src/requests/store.ts";

let home: string;
afterEach(() => rmSync(home, { recursive: true, force: true }));
const mk = () => (home = mkdtempSync(join(tmpdir(), "cb-req-unit-")));

const draft = { kind: "stuck" as const, slug: "claude-ab12c", justification: "j", stuck: { what: "w" } };
const answer = (id: string, decision: "approved" | "denied" | "timeout") => ({ version: 1 as const, id, decision, note: null, answered_at: new Date().toISOString(), applied: null });

describe("store", () => {
  test("ids are <slug>-<4 base36> and unique", () => {
    mk();
    const ids = new Set<string>();
    for (let i = 0; i < 50; i++) ids.add(createRequest(home, draft, 60_000).id);
    expect(ids.size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^claude-ab12c-[0-9a-z]{4}$/);
  });

  test("exactly one answer wins; the loser sees the winner's", () => {
    mk();
    const r = createRequest(home, draft, 60_000);
    const a = claimAnswer(home, answer(r.id, "timeout"));
    const b = claimAnswer(home, answer(r.id, "approved"));
    expect(a.ok).toBe(true);
    expect(b.ok).toBe(false);
    if (!b.ok) expect(b.existing?.decision).toBe("timeout");
    expect(readdirSync(join(home, "requests")).sort()).toEqual([`${r.id}.answer.json`, `${r.id}.json`]);
  });

  test("status: pending, expired, answered", () => {
    mk();
    const now = new Date("2026-01-01T00:00:00Z");
    const p = createRequest(home, draft, 60_000, now);
    const e = createRequest(home, draft, 1000, now);
    const d = createRequest(home, draft, 60_000, now);
    claimAnswer(home, answer(d.id, "denied"));
    const byId = Object.fromEntries(listRequests(home, new Date(now.getTime() + 5000)).map((x) => [x.request.id, x.status]));
    expect(byId).toEqual({ [p.id]: "pending", [e.id]: "expired", [d.id]: "denied" });
  });

  test("prune removes old answered/expired requests, keeps pending and recent ones", () => {
    mk();
    const t0 = new Date("2026-01-01T00:00:00Z");
    const old = createRequest(home, draft, 1000, t0);
    claimAnswer(home, { ...answer(old.id, "denied"), answered_at: t0.toISOString() });
    const oldExpired = createRequest(home, draft, 1000, t0);
    const later = new Date(t0.getTime() + 8 * 24 * 3600 * 1000);
    const pending = createRequest(home, draft, 60_000, later);
    const recent = createRequest(home, draft, 1000, new Date(later.getTime() - 3600_000));
    expect(pruneRequests(home, later)).toBe(2);
    expect(listRequests(home, later).map((e) => e.request.id).sort()).toEqual([pending.id, recent.id].sort());
    expect(readdirSync(join(home, "requests")).some((n) => n.startsWith(old.id) || n.startsWith(oldExpired.id))).toBe(false);
  });

  test("waitForAnswer wakes on the answer and gives null on timeout", async () => {
    mk();
    const r = createRequest(home, draft, 60_000);
    const t0 = Date.now();
    expect(await waitForAnswer(home, r.id, 200, 50)).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    const w = waitForAnswer(home, r.id, 5000, 1000);
    setTimeout(() => claimAnswer(home, answer(r.id, "approved")), 100);
    const t1 = Date.now();
    expect((await w)?.decision).toBe("approved");
    expect(Date.now() - t1).toBeLessThan(2000);
  });
});

describe("JSON-RPC", () => {
  const calls: [string, unknown][] = [];
  const tool: CallTool = async (name, args) => {
    calls.push([name, args]);
    return { content: [{ type: "text", text: "ok" }], isError: false };
  };

  test("notifications and responses get nothing back", async () => {
    expect(await handleMessage({ jsonrpc: "2.0", method: "notifications/initialized" }, tool)).toBeNull();
    expect(await handleMessage({ jsonrpc: "2.0", id: 1, result: {} }, tool)).toBeNull();
  });
  test("bad messages", async () => {
    expect(await handleMessage({ id: 1, method: "x" }, tool)).toMatchObject({ error: { code: -32600 } });
    expect(await handleMessage({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "rm_rf" } }, tool)).toMatchObject({ error: { code: -32602 } });
    expect(await handleMessage({ jsonrpc: "2.0", id: "a", method: "nope" }, tool)).toMatchObject({ id: "a", error: { code: -32601 } });
  });
  test("tools/call goes to the tool with its arguments", async () => {
    const r = await handleMessage({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "report_stuck", arguments: { what: "x" } } }, tool);
    expect(r).toEqual({ jsonrpc: "2.0", id: 9, result: { content: [{ type: "text", text: "ok" }], isError: false } });
    expect(calls.at(-1)).toEqual(["report_stuck", { what: "x" }]);
  });
  // Over https the agent never sees the gate's 'blocked: ...' body: a client
  // only reports the refused CONNECT (curl 7.88 in the bottle, seen: "curl:
  // (56) CONNECT tunnel failed, response 403"). The instructions name both.
  test("the instructions tell the agent what a block looks like over http and over https", async () => {
    const r = (await handleMessage({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-03-26" } }, tool)) as { result: { instructions: string } };
    expect(r.result.instructions).toContain("'blocked: ...'");
    expect(r.result.instructions).toContain("CONNECT tunnel failed, response 403");
  });
  test("initialize negotiates the protocol version", async () => {
    const r = (await handleMessage({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-03-26" } }, tool)) as { result: { protocolVersion: string } };
    expect(r.result.protocolVersion).toBe("2025-03-26");
  });
});
