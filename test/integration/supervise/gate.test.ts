// Through the real gate process: curl -x to http://supervise.bottle.internal/mcp,
// `claude-bottle approve` in another process, SIGHUP reload, and the newly
// approved host reachable through the same running gate.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { listRequests } from "../../../src/requests/store.ts";
import { CLI, auditLines, cli, makeHome, readPolicyJson, rpcResult, waitForPending, type Home } from "./fixture.ts";

interface Gate {
  proc: ReturnType<typeof Bun.spawn>;
  port: number;
}

async function startGateProcess(h: Home, timeoutSeconds: number): Promise<Gate> {
  const proc = Bun.spawn([process.execPath, CLI, "gate", "--state", h.stateDir, "--listen", "127.0.0.1:0"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, CLAUDE_BOTTLE_HOME: h.home, CLAUDE_BOTTLE_SUPERVISE_TIMEOUT: String(timeoutSeconds) },
  });
  proc.stdin!.write(JSON.stringify({ credentials: {}, secrets: [] }));
  proc.stdin!.end();
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  const m = /127\.0\.0\.1:(\d+)/.exec(new TextDecoder().decode(value));
  if (!m) throw new Error(`gate did not start: ${await new Response(proc.stderr as ReadableStream).text()}`);
  return { proc, port: Number(m[1]) };
}

async function curl(gate: Gate, url: string, body?: string): Promise<{ status: number; body: string }> {
  const args = ["curl", "-sS", "--max-time", "60", "-x", `http://127.0.0.1:${gate.port}`, "-o", "-", "-w", "\n%{http_code}", url];
  if (body !== undefined) args.push("-H", "content-type: application/json", "-H", "accept: application/json, text/event-stream", "-H", "mcp-protocol-version: 2025-06-18", "--data-binary", body);
  const p = Bun.spawn(args, { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const i = out.lastIndexOf("\n");
  return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
}

const MCP = "http://supervise.bottle.internal/mcp";
// Our own audit lines (the gate also logs each MCP HTTP exchange under layer supervise).
const EVENTS = ["REQUEST", "APPROVE", "REJECT", "TIMEOUT"];
const call = (name: string, args: unknown) => JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name, arguments: args } });
// curl accepts both JSON and an event stream, like MCP clients: tool calls come back streamed.
const resultText = (body: string) => rpcResult(body).result!.content[0]!.text;

let upstream: ReturnType<typeof Bun.serve>;
beforeAll(() => {
  upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello from the approved host\n") });
});
afterAll(() => upstream.stop(true));

describe("supervise through the real gate", () => {
  let h: Home;
  let gate: Gate;
  beforeAll(async () => {
    h = makeHome("claude-gt1ab");
    gate = await startGateProcess(h, 60);
  });
  afterAll(async () => {
    gate.proc.kill("SIGTERM");
    await gate.proc.exited;
    h.cleanup();
  });

  test("MCP over the proxy: initialize and tools/list", async () => {
    const init = await curl(gate, MCP, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "curl", version: "0" } } }));
    expect(init.status).toBe(200);
    expect(JSON.parse(init.body).result.serverInfo.name).toBe("claude-bottle-supervise");
    const list = await curl(gate, MCP, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }));
    expect(JSON.parse(list.body).result.tools).toHaveLength(3);
    expect((await curl(gate, MCP)).status).toBe(405);
  });

  test("a blocked host: request_egress blocks, approve in another process releases it, the host is reachable without a restart", async () => {
    const target = `http://localhost:${upstream.port}/data`;
    const before = await curl(gate, target);
    expect(before.status).toBe(403);
    expect(before.body).toStartWith("blocked: ");

    let settled = false;
    const pending = curl(gate, MCP, call("request_egress", { host: "localhost", ports: [upstream.port], methods: ["GET"], justification: "fetch the test data" })).finally(
      () => (settled = true),
    );
    const id = await waitForPending(h.home);
    await Bun.sleep(300);
    expect(settled).toBe(false);

    const pidBefore = gate.proc.pid;
    // localhost resolves to loopback: the operator opts into private addresses.
    const ap = await cli(h.home, "approve", id, "--allow-private", "--note", "ok for this session");
    expect(ap.err).toBe("");
    expect(ap.out).toContain(`gate ${pidBefore} reloaded`);

    const res = await pending;
    expect(res.status).toBe(200);
    expect(resultText(res.body)).toContain("approved by the operator");

    // Right away, same gate process, no restart.
    const after = await curl(gate, target);
    expect(after.status).toBe(200);
    expect(after.body).toBe("hello from the approved host\n");
    expect(gate.proc.exitCode).toBeNull();
    expect(gate.proc.pid).toBe(pidBefore);
    // POST was not asked for: still blocked.
    expect((await curl(gate, target, "{}")).status).toBe(403);

    const log = auditLines(h.stateDir);
    const sup = log.filter((a) => a.layer === "supervise" && EVENTS.includes(a.method));
    expect(sup.map((a) => a.method)).toEqual(["REQUEST", "APPROVE"]);
    expect(log.some((a) => a.host === "localhost" && a.decision === "allow" && a.status === 200)).toBe(true);
  }, 60_000);

  test("the streamed answer's first bytes cross the gate before anyone answers", async () => {
    const p = Bun.spawn(
      ["curl", "-sS", "-N", "--max-time", "60", "-x", `http://127.0.0.1:${gate.port}`, "-H", "content-type: application/json", "-H", "accept: application/json, text/event-stream", "--data-binary", call("report_stuck", { what: "w", justification: "j" }), MCP],
      { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
    );
    const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toStartWith(": waiting for the operator");
    const id = await waitForPending(h.home);
    expect((await cli(h.home, "approve", id, "--note", "carry on")).code).toBe(0);
    let rest = first;
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      rest += new TextDecoder().decode(r.value);
    }
    await p.exited;
    expect(resultText(rest)).toContain("carry on");
  }, 60_000);

  test("the agent stops waiting: no gate error, a GONE line, and a late approve says it was not told but still applies", async () => {
    const target = `http://localhost:${upstream.port}/late`;
    const p = Bun.spawn(
      ["curl", "-sS", "-N", "--max-time", "60", "-x", `http://127.0.0.1:${gate.port}`, "-H", "content-type: application/json", "-H", "accept: application/json, text/event-stream",
        "--data-binary", call("request_egress", { host: "localhost", ports: [upstream.port], methods: ["GET"], paths: ["/late"], justification: "late" }), MCP],
      { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
    );
    const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toStartWith(": waiting for the operator");
    const id = await waitForPending(h.home);
    // The MCP client gives up: its connection closes mid-stream.
    p.kill("SIGKILL");
    await p.exited;
    const t0 = Date.now();
    while (!auditLines(h.stateDir).some((a) => a.method === "GONE") && Date.now() - t0 < 10_000) await Bun.sleep(50);
    const gone = auditLines(h.stateDir).filter((a) => a.method === "GONE");
    expect(gone.length).toBe(1);
    expect(gone[0]!.reason).toContain("the agent stopped waiting");
    // The exchange is one line that says the client left, not a gate error.
    const post = auditLines(h.stateDir).filter((a) => a.method === "POST" && a.reason?.includes("closed the connection"));
    expect(post.length).toBe(1);
    expect(post[0]!.decision).toBe("allow");
    const gateLog = await Bun.file(`${h.stateDir}/gate.log`).text().catch(() => "");
    expect(gateLog).toContain("the client closed the connection before the response ended");
    expect(gateLog).not.toContain("connection handler");

    const ap = await cli(h.home, "approve", id, "--allow-private");
    expect(ap.code).toBe(0);
    expect(ap.out).toContain("note: the agent stopped waiting at");
    expect(ap.out).toContain("the change applies anyway: its next try gets through");
    // It does: the agent's next try is let through.
    const after = await curl(gate, target);
    expect(after.status).toBe(200);
  }, 60_000);

  test("a second answer to an answered request is refused and changes nothing", async () => {
    const pending = curl(gate, MCP, call("request_egress", { host: "twice.invalid", justification: "twice" }));
    const id = await waitForPending(h.home);
    expect((await cli(h.home, "reject", id)).code).toBe(0);
    await pending;
    const again = await cli(h.home, "approve", id);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain("was already answered (denied)");
  }, 60_000);

  test("reject through the gate: the agent reads denied and the host stays blocked", async () => {
    const pending = curl(gate, MCP, call("request_egress", { host: "other.invalid", justification: "curious" }));
    const id = await waitForPending(h.home);
    const rj = await cli(h.home, "reject", id, "--note", "no");
    expect(rj.code).toBe(0);
    const res = await pending;
    expect(resultText(res.body)).toContain("denied by the operator");
    expect(readPolicyJson(h.stateDir).routes.some((r) => r.host === "other.invalid")).toBe(false);
    expect((await curl(gate, "http://other.invalid/")).status).toBe(403);
  }, 60_000);
});

describe("supervise timeout through the real gate", () => {
  test("no answer within CLAUDE_BOTTLE_SUPERVISE_TIMEOUT: the call returns 'treat as denied'", async () => {
    const h = makeHome("claude-gt2ab");
    const gate = await startGateProcess(h, 1);
    try {
      const res = await curl(gate, MCP, call("request_egress", { host: "slow.invalid", justification: "x" }));
      expect(res.status).toBe(200);
      expect(resultText(res.body)).toContain("no answer from the operator within 1 s; treat as denied");
      expect(auditLines(h.stateDir).filter((a) => a.layer === "supervise" && EVENTS.includes(a.method)).map((a) => a.method)).toEqual(["REQUEST", "TIMEOUT"]);
      // The operator who answers too late is told what happened and how to
      // still allow it.
      const late = await cli(h.home, "approve", listRequests(h.home)[0]!.request.id);
      expect(late.code).not.toBe(0);
      expect(late.err).toContain("timed out: the agent was already told nobody answered; to allow it now: claude-bottle allow claude-gt2ab slow.invalid");
    } finally {
      gate.proc.kill("SIGTERM");
      await gate.proc.exited;
      h.cleanup();
    }
  }, 30_000);
});
