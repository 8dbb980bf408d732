import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { blockedFrom } from "../../../src/dash/model.ts";
import { formatRow } from "../../../src/gate/audit-view.ts";
import type { AuditRecord } from "../../../src/gate/types.ts";
import { auditCounts } from "../../../src/launch/inspect.ts";
import { auditSupervise } from "../../../src/requests/audit.ts";
import { auditLines, curl, route, startEnv, type Env } from "./harness.ts";

// An upstream that cannot be resolved or reached is the gate failing to get
// there (502 with the real reason), not a block: Claude Code and curl show
// the reason, and `ls` does not count it as blocked. Neither does a
// supervise request waiting for the operator.

let env: Env;
beforeAll(async () => {
  env = await startEnv((up) => [
    route("up.test", { ports: [up.httpsPort, up.httpPort] }),
    // .invalid never resolves (RFC 6761).
    route("nowhere.invalid", { ports: [443, 80] }),
    // Resolves (127.0.0.1), but nothing listens on port 1.
    route("closed.test", { ports: [1] }),
  ]);
});
afterAll(async () => {
  await env.close();
});

describe("gate: upstreams it cannot reach", () => {
  test("an unresolvable name is a 502 saying so, in plain http and in a tunnel", async () => {
    const plain = await curl(env, ["http://nowhere.invalid/x"]);
    expect(plain.status).toBe(502);
    expect(plain.body).toContain("cannot resolve nowhere.invalid");
    expect(plain.body).not.toContain("blocked");
    const tls = await curl(env, ["https://nowhere.invalid/x"]);
    expect(tls.connect === 502 || tls.status === 502).toBe(true);
    const lines = auditLines(env).filter((l) => l.host === "nowhere.invalid" && l.decision === "deny");
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatchObject({ layer: "gate", status: 502 });
    // `claude-bottle logs` shows the layer and the reason once each.
    for (const l of lines) expect(formatRow(l as unknown as AuditRecord)).toMatch(/\(gate: cannot resolve nowhere\.invalid \(ENOTFOUND\)\)$/);
  });

  test("a refused connection is a 502 with the reason", async () => {
    const r = await curl(env, ["http://closed.test:1/x"]);
    expect(r.status).toBe(502);
    expect(r.body).toContain("cannot connect to closed.test:1");
  });

  test("ls counts: allowed requests, blocks by a rule; not failures to reach, not a pending supervise request", async () => {
    const before = auditCounts(env.stateDir);
    const ok = await curl(env, [`http://up.test:${env.up.httpPort}/ok`]);
    expect(ok.status).toBe(200);
    const no = await curl(env, ["http://not-listed.test/"]);
    expect(no.status).toBe(403);
    await curl(env, ["http://nowhere.invalid/again"]);
    auditSupervise(env.stateDir, { version: 1, id: "test-abcde-zz99", slug: "test-abcde", created_at: new Date().toISOString(), expires_at: new Date(Date.now() + 60_000).toISOString(), justification: "j", kind: "egress", egress: { host: "later.test", ports: null, methods: null, paths: null } }, "REQUEST", "waiting for the operator");
    const after = auditCounts(env.stateDir);
    expect(after).toEqual({ allowed: before.allowed + 1, blocked: before.blocked + 1 });
    // The dashboard's "recently blocked" follows the same rule as ls.
    const shown = blockedFrom(readFileSync(join(env.stateDir, "audit.jsonl"), "utf8").split("\n"), "test-abcde").map((b) => b.host);
    expect(shown).toContain("not-listed.test");
    expect(shown).not.toContain("nowhere.invalid");
    expect(shown).not.toContain("closed.test");
  });
});
