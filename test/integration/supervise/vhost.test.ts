// The supervise vhost in-process (fetch-style handler, real files), answered
// by the real CLI in a child process.
import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSuperviseVhost } from "../../../src/requests/vhost.ts";
import { auditLines, callTool, cli, makeHome, post, readPolicyJson, rpcBody, rpcResult, waitForPending, type Home } from "./fixture.ts";

let h: Home;
afterEach(() => h?.cleanup());

const vhost = (timeoutMs = 20_000) => createSuperviseVhost({ stateDir: h.stateDir, slug: h.slug, home: h.home, timeoutMs, pollMs: 100 });

describe("MCP protocol", () => {
  test("initialize, initialized notification, tools/list, GET 405, unknown version 400", async () => {
    h = makeHome();
    const v = vhost();
    const init = await post(v, rpcBody("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } }));
    expect(init.status).toBe(200);
    expect(init.headers.get("content-type")).toStartWith("application/json");
    const ij = (await init.json()) as any;
    expect(ij.result.protocolVersion).toBe("2025-06-18");
    expect(ij.result.capabilities.tools).toBeDefined();
    expect(ij.result.serverInfo.name).toBe("claude-bottle-supervise");

    const old = (await (await post(v, rpcBody("initialize", { protocolVersion: "1999-01-01" }))).json()) as any;
    expect(old.result.protocolVersion).toBe("2025-11-25");

    // Claude Code 2.1.330 opens with its own newest version, in the body AND
    // the header: negotiation answers with ours, never a 400.
    for (const [headers, asked] of [
      [{ "mcp-protocol-version": "2026-07-28" }, "2026-07-28"],
      [{ "mcp-protocol-version": "2099-12-31" }, "2099-12-31"],
      [{ "mcp-protocol-version": "not a version" }, "2025-06-18"],
    ] as const) {
      const r = await post(v, rpcBody("initialize", { protocolVersion: asked, capabilities: {}, clientInfo: { name: "claude-code", version: "2.1.330" } }), headers);
      expect(r.status).toBe(200);
      const want = asked === "2025-06-18" ? "2025-06-18" : "2025-11-25";
      expect(((await r.json()) as any).result.protocolVersion).toBe(want);
    }
    // Its first message is a server/discover probe (MCP 2026-07-28) with that
    // version in the header: "method not found" with the id echoed, so it
    // falls back to initialize, not a 400.
    const probe = await post(v, JSON.stringify({ jsonrpc: "2.0", id: "server-discover-probe-1", method: "server/discover", params: {} }), { "mcp-protocol-version": "2026-07-28" });
    expect(probe.status).toBe(200);
    const pj = (await probe.json()) as any;
    expect(pj.id).toBe("server-discover-probe-1");
    expect(pj.error.code).toBe(-32601);
    // In a batch too.
    const batch = await post(v, JSON.stringify([{ jsonrpc: "2.0", id: 90, method: "initialize", params: { protocolVersion: "2026-07-28" } }]), { "mcp-protocol-version": "2026-07-28" });
    expect(batch.status).toBe(200);
    expect(((await batch.json()) as any)[0].result.protocolVersion).toBe("2025-11-25");

    const note = await post(v, rpcBody("notifications/initialized", undefined, true), { "mcp-protocol-version": "2025-06-18" });
    expect(note.status).toBe(202);
    expect(await note.text()).toBe("");

    const list = (await (await post(v, rpcBody("tools/list"), { "mcp-protocol-version": "2025-06-18" })).json()) as any;
    expect(list.result.tools.map((t: { name: string }) => t.name).sort()).toEqual(["report_stuck", "request_egress", "request_git_rule"]);
    for (const t of list.result.tools) expect(t.inputSchema.required).toContain("justification");

    const get = await v(new Request("http://supervise.bottle.internal/mcp"));
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");

    const bad = await post(v, rpcBody("tools/list"), { "mcp-protocol-version": "1999-01-01" });
    expect(bad.status).toBe(400);

    const parse = await post(v, "{not json");
    expect(parse.status).toBe(400);
    expect(((await parse.json()) as any).error.code).toBe(-32700);

    const nf = (await (await post(v, rpcBody("resources/list"))).json()) as any;
    expect(nf.error.code).toBe(-32601);

    expect((await v(new Request("http://supervise.bottle.internal/other", { method: "POST", body: "{}" }))).status).toBe(404);
  });

  test("invalid tool arguments come back as a tool error, nothing is queued", async () => {
    h = makeHome();
    const v = vhost();
    const r1 = await callTool(v, "request_egress", { host: "api.x.test" });
    expect(r1.isError).toBe(true);
    expect(r1.text).toContain("justification");
    const r2 = await callTool(v, "request_egress", { host: "git.bottle.internal", justification: "x" });
    expect(r2.isError).toBe(true);
    expect(r2.text).toContain("served by the gate itself");
    const r3 = await callTool(v, "request_git_rule", { upstream: "nope", branch: "x", justification: "x" });
    expect(r3.isError).toBe(true);
    expect(r3.text).toContain("this bottle has: origin");
    expect((await cli(h.home, "requests", "--json")).out.trim()).toBe("[]");
  });
});

describe("a tool call blocks until the operator answers", () => {
  test("approve in another process: the call returns approved, policy.json carries the host, audit has both lines", async () => {
    h = makeHome();
    const v = vhost();
    let settled = false;
    const call = callTool(v, "request_egress", { host: "API.Example.test.", methods: ["get"], justification: "need the docs" }).finally(() => (settled = true));
    const id = await waitForPending(h.home);
    expect(id).toMatch(new RegExp(`^${h.slug}-[0-9a-z]{4}$`));
    await Bun.sleep(300);
    expect(settled).toBe(false); // still waiting for a human

    // Files: 0700 dir, 0600 request, no answer yet.
    const dir = join(h.home, "requests");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, `${id}.json`)).mode & 0o777).toBe(0o600);

    const listed = await cli(h.home, "requests");
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(id);
    expect(listed.out).toContain("egress api.example.test GET");
    expect(listed.out).toContain("need the docs");

    const ap = await cli(h.home, "approve", id, "--note", "go ahead");
    expect(ap.err).toBe("");
    expect(ap.code).toBe(0);
    expect(ap.out).toContain(`approved ${id}: allowed api.example.test (GET)`);

    const r = await call;
    expect(r.isError).toBe(false);
    expect(r.text).toContain("approved by the operator");
    expect(r.text).toContain("go ahead");

    const route = readPolicyJson(h.stateDir).routes.find((x) => x.host === "api.example.test");
    expect(route).toMatchObject({ host: "api.example.test", methods: ["GET"], allow_private: false });

    const sup = auditLines(h.stateDir).filter((a) => a.layer === "supervise");
    expect(sup.map((a) => [a.method, a.decision, a.host])).toEqual([
      ["REQUEST", "deny", "api.example.test"],
      ["APPROVE", "allow", "api.example.test"],
    ]);
    expect(sup[1]!.reason).toContain(id);
    // Justifications stay out of the audit log.
    expect(JSON.stringify(sup)).not.toContain("need the docs");

    // Answered: no longer pending; a second answer is refused.
    expect((await cli(h.home, "requests", "--json")).out.trim()).toBe("[]");
    const again = await cli(h.home, "reject", id);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain("already answered (approved)");
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  }, 30_000);

  test("reject: the agent reads denied with the note, the policy is untouched", async () => {
    h = makeHome();
    const before = readPolicyJson(h.stateDir);
    const v = vhost();
    const call = callTool(v, "request_egress", { host: "evil.test", justification: "pls" });
    const id = await waitForPending(h.home);
    const rj = await cli(h.home, "reject", id, "--note", "use the mirror");
    expect(rj.code).toBe(0);
    expect(rj.out).toContain(`rejected ${id}`);
    const r = await call;
    expect(r.text).toContain("denied by the operator");
    expect(r.text).toContain("use the mirror");
    expect(readPolicyJson(h.stateDir)).toEqual(before);
    expect(auditLines(h.stateDir).map((a) => a.method)).toEqual(["REQUEST", "REJECT"]);
  }, 30_000);

  test("timeout: the agent reads 'no answer ... treat as denied'; a late approve is refused and changes nothing", async () => {
    h = makeHome();
    const before = readPolicyJson(h.stateDir);
    const v = vhost(1000);
    const t0 = Date.now();
    const r = await callTool(v, "request_egress", { host: "late.test", justification: "x" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(r.text).toContain("no answer from the operator within 1 s; treat as denied");
    const id = r.text.match(/request (\S+)\)/)![1]!;
    const late = await cli(h.home, "approve", id);
    expect(late.code).not.toBe(0);
    expect(late.err).toMatch(/timed out: the agent was already told nobody answered|expired/);
    expect(readPolicyJson(h.stateDir)).toEqual(before);
    expect(auditLines(h.stateDir).map((a) => a.method)).toEqual(["REQUEST", "TIMEOUT"]);
  }, 30_000);

  test("report_stuck: the operator's note is the answer", async () => {
    h = makeHome();
    const v = vhost();
    const call = callTool(v, "report_stuck", { what: "tests need a database", justification: "cannot continue" });
    const id = await waitForPending(h.home);
    expect((await cli(h.home, "approve", id, "--note", "skip the db tests, use the sqlite fixture")).code).toBe(0);
    const r = await call;
    expect(r.text).toContain("skip the db tests, use the sqlite fixture");
  }, 30_000);

  test("request_git_rule: approval adds the branch pattern and force to the upstream", async () => {
    h = makeHome();
    const v = vhost();
    const call = callTool(v, "request_git_rule", { upstream: "origin", branch: "feature/*", allow_force: true, justification: "rebase my branch" });
    const id = await waitForPending(h.home);
    const ap = await cli(h.home, "approve", id);
    expect(ap.code).toBe(0);
    expect(ap.out).toContain("allowed branch feature/*, force pushes on origin");
    expect((await call).text).toContain("approved");
    expect(readPolicyJson(h.stateDir).git[0]).toMatchObject({ name: "origin", branches: ["main", "feature/*"], allow_force: true, allow_delete: false });
  }, 30_000);

  test("streamed form: headers and keep-alive progress at once, the result as the last event", async () => {
    h = makeHome();
    const v = createSuperviseVhost({ stateDir: h.stateDir, slug: h.slug, home: h.home, timeoutMs: 20_000, pollMs: 100, keepaliveMs: 100 });
    const res = await post(
      v,
      JSON.stringify({ jsonrpc: "2.0", id: 42, method: "tools/call", params: { name: "report_stuck", arguments: { what: "w", justification: "j" }, _meta: { progressToken: "tok" } } }),
      { accept: "application/json, text/event-stream" },
    );
    // The Response exists before anyone answered.
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    let text = "";
    const dec = new TextDecoder();
    while (!text.includes("notifications/progress")) text += dec.decode((await reader.read()).value);
    expect(text).toStartWith(": waiting for the operator\n\n");
    expect(text).toContain('"progressToken":"tok"');
    const id = await waitForPending(h.home);
    expect((await cli(h.home, "approve", id, "--note", "answer text")).code).toBe(0);
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      text += dec.decode(r.value);
    }
    const final = rpcResult(text);
    expect(final.result!.content[0]!.text).toContain("answer text");
    expect(text.trimEnd().split("\n\n").at(-1)).toStartWith("event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":42,\"result\"");
  }, 30_000);

  test("an agent cannot queue more than the pending limit", async () => {
    h = makeHome();
    const v = createSuperviseVhost({ stateDir: h.stateDir, slug: h.slug, home: h.home, timeoutMs: 3000, pollMs: 100, maxPending: 2 });
    const a = callTool(v, "request_egress", { host: "a.test", justification: "x" });
    const b = callTool(v, "request_egress", { host: "b.test", justification: "x" });
    const until = Date.now() + 5000;
    while ((JSON.parse((await cli(h.home, "requests", "--json")).out) as unknown[]).length < 2 && Date.now() < until) await Bun.sleep(50);
    const c = await callTool(v, "request_egress", { host: "c.test", justification: "x" });
    expect(c.isError).toBe(true);
    expect(c.text).toContain("too many requests");
    await Promise.all([a, b]);
  }, 30_000);
});
