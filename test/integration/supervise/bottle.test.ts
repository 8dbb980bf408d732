// From inside a real Docker bottle: the agent's MCP call to
// supervise.bottle.internal blocks, `claude-bottle approve` in another
// process releases it, and the approved host is reachable from the bottle
// without a restart. Also checks that the bottle's Claude config registers
// the supervise server.
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dockerTest, dockerCliEnv } from "../../helpers/docker.ts";
import { CLI, auditLines, rpcResult, waitForPending } from "./fixture.ts";

let home = "";
let work = "";
let upstream: ReturnType<typeof Bun.serve> | null = null;
const slugs: string[] = [];

function env(): Record<string, string> {
  return dockerCliEnv(home);
}

async function cli(args: string[]) {
  const p = Bun.spawn([process.execPath, CLI, ...args], { cwd: work, env: env(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "cb-sup-bottle-"));
  work = mkdtempSync(join(tmpdir(), "cb-sup-work-"));
  upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello from the approved host\n") });
  mkdirSync(join(home, "bottles"), { recursive: true });
  mkdirSync(join(home, "agents"), { recursive: true });
  writeFileSync(join(home, "bottles", "suptest.md"), "---\nsupervise: true\n---\n");
  writeFileSync(join(home, "agents", "suptest.md"), "---\nbottle: suptest\nworkspace: none\n---\n\nSupervise test agent.\n");
});

afterAll(async () => {
  for (const slug of slugs) await cli(["down", slug]);
  upstream?.stop(true);
  for (const d of [home, work]) if (d) rmSync(d, { recursive: true, force: true });
});

dockerTest(
  "in a bottle: an MCP request_egress call blocks, approve releases it, the host becomes reachable without a restart",
  async () => {
    const up = await cli(["up", "suptest", "-d", "--yes"]);
    if (up.code !== 0) throw new Error(`up -d failed (${up.code}): ${up.stderr}`);
    const slug = up.stdout.trim().split("\n").pop()!;
    slugs.push(slug);
    const port = upstream!.port!;

    // The bottle's Claude Code is told about the supervise MCP server.
    const cfg = await cli(["exec", slug, "--", "sh", "-c", "cat ~/.claude.json"]);
    expect(JSON.parse(cfg.stdout).mcpServers.supervise).toEqual({ type: "http", url: "http://supervise.bottle.internal/mcp" });

    // localhost is in NO_PROXY inside the bottle; --noproxy '' sends it to
    // the gate, which dials the host's loopback (the test upstream).
    const fetchHost = ["curl", "-s", "-m", "10", "--noproxy", "", "-o", "-", "-w", "\\n%{http_code}", `http://localhost:${port}/data`];
    const before = await cli(["exec", slug, "--", ...fetchHost]);
    expect(before.stdout).toContain("blocked: ");
    expect(before.stdout.trim().split("\n").pop()).toBe("403");

    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "request_egress", arguments: { host: "localhost", ports: [port], methods: ["GET"], justification: "fetch the test data" } },
    });
    let settled = false;
    const call = cli([
      "exec", slug, "--",
      "curl", "-s", "-m", "120", "-H", "content-type: application/json", "-H", "accept: application/json, text/event-stream",
      "-H", "mcp-protocol-version: 2025-06-18", "--data-binary", body, "http://supervise.bottle.internal/mcp",
    ]).finally(() => (settled = true));
    const id = await waitForPending(home, 30_000);
    expect(id.startsWith(`${slug}-`)).toBe(true);
    await Bun.sleep(500);
    expect(settled).toBe(false);

    const listed = await cli(["requests"]);
    expect(listed.stdout).toContain(id);
    const gatePid = (await Bun.file(join(home, "state", slug, "gate.pid")).text()).trim();
    const ap = await cli(["approve", id, "--allow-private", "--note", "go"]);
    expect(ap.stderr).toBe("");
    expect(ap.stdout).toContain(`gate ${gatePid} reloaded`);

    const res = await call;
    expect(res.code).toBe(0);
    // Streamed (text/event-stream): keep-alives, then the result event.
    expect(res.stdout).toStartWith(": waiting for the operator");
    const text = rpcResult(res.stdout).result!.content[0]!.text;
    expect(text).toContain("approved by the operator");

    const after = await cli(["exec", slug, "--", ...fetchHost]);
    expect(after.stdout).toBe("hello from the approved host\n\n200");
    // Same gate process: reloaded, not restarted.
    expect((await Bun.file(join(home, "state", slug, "gate.pid")).text()).trim()).toBe(gatePid);

    const sup = auditLines(join(home, "state", slug)).filter((a) => a.layer === "supervise" && ["REQUEST", "APPROVE"].includes(a.method));
    expect(sup.map((a) => a.method)).toEqual(["REQUEST", "APPROVE"]);
  },
  240_000,
);
