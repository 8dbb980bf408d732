import * as z from "../zod.ts";
import type { GatePolicy } from "../gate/types.ts";
import { canonicalPattern } from "../policy/edit.ts";
import { LIMITS, type Answer, type SuperviseRequest } from "./schema.ts";
import type { RequestDraft } from "./store.ts";

// The MCP tools of supervise.bottle.internal: their JSON-Schema inputs (what
// the agent's model sees), the validation of a call's arguments into a
// request draft, and the text the agent gets back. Pure.

export const TOOL_NAMES = ["request_egress", "request_git_rule", "report_stuck"] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

const justification = {
  type: "string",
  description: "Why you need this, in one or two sentences the operator can judge quickly.",
  maxLength: LIMITS.justification,
};

export const TOOLS = [
  {
    name: "request_egress",
    description:
      "Ask the operator to let this bottle reach a host that the gate blocks (you saw 'blocked: ...' from the proxy). " +
      "Blocks until the operator answers; if approved, the host is reachable at once (no restart). " +
      "Ask for the narrowest access that works: one host, and the methods and path prefixes you need.",
    inputSchema: {
      type: "object",
      properties: {
        host: { type: "string", description: "Host name, e.g. api.example.com (or *.example.com for every subdomain)" },
        ports: { type: "array", items: { type: "integer" }, description: "Ports, only when not 80/443 (omit for the defaults)" },
        methods: { type: "array", items: { type: "string" }, description: "HTTP methods, e.g. [\"GET\"] (omit for all)" },
        paths: { type: "array", items: { type: "string" }, description: "Path prefixes starting with /, e.g. [\"/v1/\"] (omit for all)" },
        justification,
      },
      required: ["host", "justification"],
      additionalProperties: false,
    },
  },
  {
    name: "request_git_rule",
    description:
      "Ask the operator to change a push rule of a git upstream served at http://git.bottle.internal/<upstream>.git: " +
      "allow a branch pattern, force pushes, or branch deletion. Blocks until the operator answers.",
    inputSchema: {
      type: "object",
      properties: {
        upstream: { type: "string", description: "Upstream name, as in http://git.bottle.internal/<upstream>.git" },
        branch: { type: "string", description: "Branch name or glob to allow, e.g. feature/*" },
        allow_force: { type: "boolean", description: "true to ask for force pushes" },
        allow_delete: { type: "boolean", description: "true to ask for branch deletion" },
        justification,
      },
      required: ["upstream", "justification"],
      additionalProperties: false,
    },
  },
  {
    name: "report_stuck",
    description:
      "Tell the operator you are stuck and cannot continue on your own (missing access, unclear task, a decision only " +
      "a human can make). Blocks until the operator answers; the answer is free text.",
    inputSchema: {
      type: "object",
      properties: {
        what: { type: "string", description: "What you are stuck on and what you already tried", maxLength: LIMITS.what },
        justification,
      },
      required: ["what", "justification"],
      additionalProperties: false,
    },
  },
] as const;

const list = z.array(z.string().check(z.minLength(1), z.maxLength(LIMITS.item))).check(z.minLength(1), z.maxLength(LIMITS.listItems));
const just = z.string().check(z.trim(), z.minLength(1, "justification is required"), z.maxLength(LIMITS.justification));

const argSchemas = {
  request_egress: z.strictObject({
    host: z.string().check(z.minLength(1), z.maxLength(260)),
    ports: z.optional(z.array(z.int().check(z.minimum(1), z.maximum(65535))).check(z.minLength(1), z.maxLength(LIMITS.listItems))),
    methods: z.optional(list), paths: z.optional(list), justification: just }),
  request_git_rule: z.strictObject({
    upstream: z.string().check(z.minLength(1), z.maxLength(64)),
    branch: z.optional(z.string().check(z.minLength(1), z.maxLength(LIMITS.item))),
    allow_force: z.optional(z.boolean()),
    allow_delete: z.optional(z.boolean()),
    justification: just,
  }),
  report_stuck: z.strictObject({ what: z.string().check(z.trim(), z.minLength(1), z.maxLength(LIMITS.what)), justification: just }),
};

export type Parsed = { ok: true; draft: RequestDraft } | { ok: false; error: string };

export function isToolName(n: unknown): n is ToolName {
  return typeof n === "string" && (TOOL_NAMES as readonly string[]).includes(n);
}

// Validates a tools/call against the bottle's current policy (a git rule
// must name one of its upstreams) and builds the request to queue.
export function parseToolCall(name: ToolName, args: unknown, policy: GatePolicy): Parsed {
  const r = argSchemas[name].safeParse(args ?? {});
  if (!r.success) {
    const i = r.error.issues[0]!;
    return { ok: false, error: `invalid arguments: ${i.path.join(".") || "(arguments)"}: ${i.message}` };
  }
  const slug = policy.slug;
  try {
    switch (name) {
      case "request_egress": {
        const a = r.data as z.infer<typeof argSchemas.request_egress>;
        const host = canonicalPattern(a.host);
        const methods = a.methods ? [...new Set(a.methods.map((m) => m.toUpperCase()))] : null;
        if (methods?.some((m) => !/^[A-Z]{1,16}$/.test(m))) return { ok: false, error: "invalid arguments: methods are HTTP method names such as GET" };
        const paths = a.paths ? [...new Set(a.paths)] : null;
        if (paths?.some((p) => !/^\/[\x21-\x7e]*$/.test(p))) return { ok: false, error: "invalid arguments: paths are prefixes starting with / (no spaces)" };
        const ports = a.ports ? [...new Set(a.ports)] : null;
        return { ok: true, draft: { kind: "egress", slug, justification: a.justification, egress: { host, ports, methods, paths } } };
      }
      case "request_git_rule": {
        const a = r.data as z.infer<typeof argSchemas.request_git_rule>;
        const known = policy.git.map((g) => g.name);
        if (!known.includes(a.upstream)) {
          return {
            ok: false,
            error: `unknown upstream '${a.upstream}'` + (known.length ? ` (this bottle has: ${known.join(", ")})` : " (this bottle has no git upstream whose rules can change)"),
          };
        }
        if (a.branch !== undefined && !/^[\x21-\x7e]+$/.test(a.branch)) return { ok: false, error: "invalid arguments: branch must be a branch name or glob without spaces" };
        if (a.branch === undefined && a.allow_force !== true && a.allow_delete !== true) {
          return { ok: false, error: "invalid arguments: ask for at least one of branch, allow_force: true, allow_delete: true" };
        }
        return {
          ok: true,
          draft: {
            kind: "git",
            slug,
            justification: a.justification,
            git: { upstream: a.upstream, branch: a.branch ?? null, allow_force: a.allow_force === true ? true : null, allow_delete: a.allow_delete === true ? true : null },
          },
        };
      }
      case "report_stuck": {
        const a = r.data as z.infer<typeof argSchemas.report_stuck>;
        return { ok: true, draft: { kind: "stuck", slug, justification: a.justification, stuck: { what: a.what } } };
      }
    }
  } catch (e) {
    // canonicalPattern's UserError: a one-line reason, no secret.
    return { ok: false, error: `invalid arguments: ${(e as Error).message}` };
  }
}

// One line naming what is asked, for lists, audit and the dashboard.
export function summarize(req: SuperviseRequest): string {
  switch (req.kind) {
    case "egress": {
      const e = req.egress;
      return `egress ${e.host}${e.ports ? `:${e.ports.join(",")}` : ""}${e.methods ? ` ${e.methods.join(",")}` : ""}${e.paths ? ` ${e.paths.join(",")}` : ""}`;
    }
    case "git": {
      const g = req.git;
      const parts = [g.branch ? `branch ${g.branch}` : null, g.allow_force ? "force pushes" : null, g.allow_delete ? "branch deletion" : null];
      return `git ${g.upstream}: ${parts.filter(Boolean).join(", ")}`;
    }
    case "stuck":
      return `stuck: ${req.stuck.what}`;
  }
}

// The audit record's "host" field for a request.
export function auditTarget(req: SuperviseRequest): string {
  return req.kind === "egress" ? req.egress.host : req.kind === "git" ? `git:${req.git.upstream}` : "stuck";
}

// What the agent reads as the tool's result.
export function answerText(req: SuperviseRequest, answer: Answer, timeoutMs: number): { text: string; isError: boolean } {
  const note = answer.note ? `\nOperator's note: ${answer.note}` : "";
  if (answer.decision === "timeout") {
    return { text: `no answer from the operator within ${Math.round(timeoutMs / 1000)} s; treat as denied (request ${req.id})`, isError: false };
  }
  if (answer.decision === "denied") {
    return { text: `denied by the operator (request ${req.id}).${note}`, isError: false };
  }
  if (req.kind === "stuck") {
    return { text: `the operator answered (request ${req.id}):\n${answer.note ?? "(no text; carry on as you see fit)"}`, isError: false };
  }
  const applied = answer.applied ? ` ${answer.applied}.` : "";
  const retry = req.kind === "egress" ? " The gate applies it now; retry your request." : " The git gate applies it now; retry your push.";
  return { text: `approved by the operator (request ${req.id}).${applied}${retry}${note}`, isError: false };
}
