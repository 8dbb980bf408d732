import { describe, expect, test } from "bun:test";
import type { GatePolicy } from "../../../src/gate/types.ts";
import { approvalVisible, planApproval } from "../../../src/requests/apply.ts";
import type { SuperviseRequest } from "../../../src/requests/schema.ts";
import { clean, cleanLine } from "../../../src/requests/sanitize.ts";
import { answerText, parseToolCall, summarize } from "../../../src/requests/tools.ts";

const policy: GatePolicy = {
  version: 1,
  slug: "claude-ab12c",
  routes: [{ host: "api.anthropic.com", tls: "terminate", dlp: "on", allow_private: false }],
  git: [{ name: "origin", url: "https://x.invalid/r.git", branches: ["main"], allow_force: false, allow_delete: false }],
  supervise: true,
  placeholders: {},
};

const base = { version: 1 as const, id: "claude-ab12c-zz00", slug: "claude-ab12c", created_at: "2026-01-01T00:00:00.000Z", expires_at: "2026-01-01T00:10:00.000Z", justification: "j" };

function draftOf(name: Parameters<typeof parseToolCall>[0], args: unknown) {
  const r = parseToolCall(name, args, policy);
  if (!r.ok) throw new Error(r.error);
  return r.draft;
}

describe("parseToolCall", () => {
  test("egress: canonical host, upper-case methods, ports and paths kept", () => {
    expect(draftOf("request_egress", { host: "API.Example.COM.", methods: ["get", "GET", "post"], paths: ["/v1/"], ports: [8443], justification: " why " })).toEqual({
      kind: "egress",
      slug: "claude-ab12c",
      justification: "why",
      egress: { host: "api.example.com", ports: [8443], methods: ["GET", "POST"], paths: ["/v1/"] },
    });
  });

  test.each([
    [{ host: "x.com" }, "justification"],
    [{ host: "x.com", justification: "   " }, "justification is required"],
    [{ host: "git.bottle.internal", justification: "j" }, "served by the gate itself"],
    [{ host: "a b.com", justification: "j" }, "not a host name"],
    [{ host: "x.com", methods: ["GET /"], justification: "j" }, "methods"],
    [{ host: "x.com", paths: ["v1"], justification: "j" }, "paths"],
    [{ host: "x.com", ports: [0], justification: "j" }, "ports"],
    [{ host: "x.com", justification: "j", extra: 1 }, "invalid arguments"],
  ])("egress %j is refused (%s)", (args, msg) => {
    const r = parseToolCall("request_egress", args, policy);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(msg);
  });

  test("git: upstream must exist, something must be asked", () => {
    expect(draftOf("request_git_rule", { upstream: "origin", allow_delete: true, justification: "j" })).toMatchObject({
      git: { upstream: "origin", branch: null, allow_force: null, allow_delete: true },
    });
    const unknown = parseToolCall("request_git_rule", { upstream: "other", branch: "x", justification: "j" }, policy);
    expect(unknown.ok ? "" : unknown.error).toContain("this bottle has: origin");
    const nothing = parseToolCall("request_git_rule", { upstream: "origin", allow_force: false, justification: "j" }, policy);
    expect(nothing.ok ? "" : nothing.error).toContain("at least one");
  });

  test("stuck needs what", () => {
    expect(parseToolCall("report_stuck", { justification: "j" }, policy).ok).toBe(false);
    expect(draftOf("report_stuck", { what: "db", justification: "j" })).toMatchObject({ kind: "stuck", stuck: { what: "db" } });
  });
});

describe("planApproval / approvalVisible", () => {
  const egress = (e: Partial<Extract<SuperviseRequest, { kind: "egress" }>["egress"]>): SuperviseRequest => ({
    ...base,
    kind: "egress",
    egress: { host: "new.example.com", ports: null, methods: null, paths: null, ...e },
  });

  test("egress appends one route; approving the same again changes nothing", () => {
    const req = egress({ methods: ["GET"], ports: [8080] });
    expect(approvalVisible(req, policy)).toBe(false);
    const e = planApproval(req, policy);
    expect(e.changed).toBe(true);
    expect(e.policy.routes.at(-1)).toEqual({ host: "new.example.com", methods: ["GET"], ports: [8080], tls: "terminate", dlp: "on", allow_private: false });
    expect(e.applied).toBe("allowed new.example.com:8080 (GET)");
    expect(approvalVisible(req, e.policy)).toBe(true);
    expect(planApproval(req, e.policy).changed).toBe(false);
    expect(policy.routes).toHaveLength(1); // input not mutated
  });

  test("allow_private only when the operator says so", () => {
    expect(planApproval(egress({}), policy).route!.allow_private).toBe(false);
    const p = planApproval(egress({}), policy, { allowPrivate: true });
    expect(p.route!.allow_private).toBe(true);
    expect(p.applied).toContain("including private addresses");
  });

  test("allow_private follows the manifest's rule: all of them on an exact host only, named addresses anywhere", () => {
    const wild = egress({ host: "*.lan.example" });
    expect(() => planApproval(wild, policy, { allowPrivate: true })).toThrow(
      "--allow-private on *.lan.example would let any name under it reach every private and loopback address; name the addresses it may reach instead: --private-address 10.0.0.5,192.168.1.0/24:5432",
    );
    const named = planApproval(wild, policy, { allowPrivate: ["10.0.0.5", "192.168.1.0/24:5432"] });
    expect(named.route!.allow_private).toEqual(["10.0.0.5", "192.168.1.0/24:5432"]);
    expect(named.applied).toBe("allowed *.lan.example including private addresses 10.0.0.5, 192.168.1.0/24:5432");
    expect(() => planApproval(wild, policy, { allowPrivate: ["10.0.0.5", "nas.local"] })).toThrow(
      "--private-address: 'nas.local' must be an IP address or CIDR",
    );
    expect(() => planApproval(wild, policy, { allowPrivate: ["0.0.0.0/0"] })).toThrow("must have a prefix from /8 to /32");
  });

  test("git: branch added to an existing list, force and delete set; nothing to do is not a change", () => {
    const req: SuperviseRequest = { ...base, kind: "git", git: { upstream: "origin", branch: "feat/*", allow_force: true, allow_delete: null } };
    const e = planApproval(req, policy);
    expect(e.policy.git[0]).toMatchObject({ branches: ["main", "feat/*"], allow_force: true, allow_delete: false });
    expect(approvalVisible(req, policy)).toBe(false);
    expect(approvalVisible(req, e.policy)).toBe(true);
    expect(planApproval(req, e.policy).changed).toBe(false);
    const gone: SuperviseRequest = { ...base, kind: "git", git: { upstream: "gone", branch: "x", allow_force: null, allow_delete: null } };
    expect(() => planApproval(gone, policy)).toThrow("no git upstream 'gone'");
  });
});

describe("texts", () => {
  const req: SuperviseRequest = { ...base, kind: "egress", egress: { host: "h.com", ports: null, methods: null, paths: null } };
  const ans = (decision: "approved" | "denied" | "timeout", note: string | null = null) => ({ version: 1 as const, id: base.id, decision, note, answered_at: "", applied: decision === "approved" ? "allowed h.com" : null });

  test("timeout reads as denied, with the configured seconds", () => {
    expect(answerText(req, ans("timeout"), 600_000).text).toStartWith("no answer from the operator within 600 s; treat as denied");
  });
  test("approved and denied carry the note", () => {
    expect(answerText(req, ans("approved", "ok"), 1000).text).toContain("approved by the operator (request claude-ab12c-zz00). allowed h.com.");
    expect(answerText(req, ans("denied", "no"), 1000).text).toContain("Operator's note: no");
  });
  test("summaries", () => {
    expect(summarize({ ...req, egress: { host: "h.com", ports: [81], methods: ["GET"], paths: ["/a"] } })).toBe("egress h.com:81 GET /a");
    expect(summarize({ ...base, kind: "git", git: { upstream: "o", branch: "b", allow_force: true, allow_delete: null } })).toBe("git o: branch b, force pushes");
  });
});

describe("sanitize", () => {
  test("escape sequences, C1 and bidi controls are defused; text survives", () => {
    expect(clean("a\x1b[31mb\x9bc\u202ed\x07")).toBe("a\uFFFD[31mb\uFFFDc\uFFFDd\uFFFD");
    expect(clean("line1\nline2\ttab")).toBe("line1\nline2\ttab");
    expect(cleanLine("a\nb\r\nc")).toBe("a b\uFFFD c");
    expect(clean("héllo 日本")).toBe("héllo 日本");
  });
});
