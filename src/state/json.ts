import { readFileSync } from "node:fs";
import type * as z from "../zod.ts";

// Reading one of our own state files (metadata.json, spec.json, plan.json)
// back through its schema instead of trusting a cast: a file cut short by a
// full disk, or edited by hand, becomes one clear line instead of a crash
// later on. The reason names where the file is wrong, never what it holds
// (spec.json carries literal env values), and never JSON.parse's own
// message, which quotes the text.
export type JsonFile<T> = { ok: true; value: T } | { ok: false; missing: boolean; reason: string };

export function readJsonFile<T>(file: string, schema: z.ZodMiniType<T>): JsonFile<T> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code ?? "error";
    return { ok: false, missing: code === "ENOENT", reason: `cannot be read (${code})` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, missing: false, reason: "is not valid JSON" };
  }
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join(".") : "the top level";
  return { ok: false, missing: false, reason: `is damaged at ${where} (${issue?.message ?? "invalid"})` };
}
