import * as z from "../zod.ts";

// Supervise requests: what an agent asks the operator for from inside its
// bottle (the MCP tools of supervise.bottle.internal), and the operator's
// answer. Both are JSON files under <home>/requests/ (see store.ts). They
// hold the agent's words and host names, never a secret: the gate writes
// them from the tool arguments only.

export const REQUEST_ID_RE = /^[a-z][a-z0-9-]*-[0-9a-z]{5}-[0-9a-z]{4}$/;

// Bounds on what an agent can make the operator read (and the host store).
export const LIMITS = {
  justification: 2000,
  what: 4000,
  note: 2000,
  listItems: 32,
  item: 256,
} as const;

const text = (max: number) => z.string().check(z.maxLength(max));

export const egressDetailSchema = z.strictObject({
  host: z.string().check(z.minLength(1), z.maxLength(260)),
  // Absent: the scheme's default ports (80, 443), as for a manifest route.
  ports: z._default(z.nullable(z.array(z.int().check(z.minimum(1), z.maximum(65535))).check(z.maxLength(LIMITS.listItems))), null),
  methods: z.nullable(z.array(z.string().check(z.maxLength(16))).check(z.maxLength(LIMITS.listItems))),
  paths: z.nullable(z.array(z.string().check(z.maxLength(LIMITS.item))).check(z.maxLength(LIMITS.listItems))),
});

export const gitDetailSchema = z.strictObject({
  upstream: z.string().check(z.minLength(1), z.maxLength(64)),
  branch: z.nullable(z.string().check(z.maxLength(LIMITS.item))),
  allow_force: z.nullable(z.boolean()),
  allow_delete: z.nullable(z.boolean()),
});

export const stuckDetailSchema = z.strictObject({
  what: text(LIMITS.what),
});

const base = {
  version: z.literal(1),
  id: z.string().check(z.regex(REQUEST_ID_RE)),
  slug: z.string().check(z.minLength(1), z.maxLength(80)),
  created_at: z.string(),
  // After this instant the gate has told the agent "no answer"; an answer
  // written later would reach no one, so it is refused.
  expires_at: z.string(),
  justification: text(LIMITS.justification),
};

export const requestSchema = z.discriminatedUnion("kind", [
  z.strictObject({ ...base, kind: z.literal("egress"), egress: egressDetailSchema }),
  z.strictObject({ ...base, kind: z.literal("git"), git: gitDetailSchema }),
  z.strictObject({ ...base, kind: z.literal("stuck"), stuck: stuckDetailSchema }),
]);

export type SuperviseRequest = z.infer<typeof requestSchema>;
export type RequestKind = SuperviseRequest["kind"];
export type EgressDetail = z.infer<typeof egressDetailSchema>;
export type GitDetail = z.infer<typeof gitDetailSchema>;

export const answerSchema = z.strictObject({
  version: z.literal(1),
  id: z.string().check(z.regex(REQUEST_ID_RE)),
  // "timeout" is written by the gate itself when nobody answered in time.
  decision: z.enum(["approved", "denied", "timeout"]),
  note: z.nullable(text(LIMITS.note)),
  answered_at: z.string(),
  // What an approval changed (e.g. "allowed api.x.com (GET)"), for the
  // agent and the record.
  applied: z.nullable(z.string().check(z.maxLength(1000))),
});

export type Answer = z.infer<typeof answerSchema>;
