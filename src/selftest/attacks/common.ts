import { judgeGate, judgeSealed } from "../judges.ts";
import type { Attack, AttackContext, Layer } from "../types.ts";

export const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export const secret = (ctx: AttackContext, i = 0) => ctx.secrets[i % ctx.secrets.length]!;

// Encodings of $S computed inside the sandbox (the value comes from the
// env by name, exactly as an agent would read it).
const ENC = `
b64=$(printf %s "$S" | base64 -w0)
hex=$(printf %s "$S" | od -v -An -tx1 | tr -d ' \\n')
pct=$(printf %s "$S" | od -v -An -tx1 | tr -d '\\n' | sed 's/ /%/g')
`;
export const ENC_TOOLS = ["base64", "od", "tr", "sed"];

export const withSecret = (ctx: AttackContext, i: number, body: string) => `S="$${secret(ctx, i).name}"\n${ENC}\n${body}`;

// An attack on the gate: probe() is curl, raw() is node.
export const gate = (
  id: string,
  category: number,
  title: string,
  expected: Layer,
  tools: string[],
  body: (ctx: AttackContext) => string,
): Attack => ({ id, category, title, expected, tools, body, judge: (ev, ctx) => judgeGate(ev, ctx) });

// An attack that ignores the proxy: the body prints RC=<exit> of its tool,
// then ifaces() lists the sandbox's interfaces for the judge.
export const sealed = (
  id: string,
  category: number,
  title: string,
  tools: string[],
  body: (ctx: AttackContext) => string,
  needsError = true,
): Attack => ({
  id,
  category,
  title,
  expected: "sealed-network",
  tools: [...tools, "ip"],
  body: (ctx) => `${body(ctx)}\nifaces`,
  judge: (ev) => judgeSealed(ev, needsError),
});
