import type * as z from "../zod.ts";
import { closest } from "./didyoumean.ts";

// Turns zod issues into the one-line messages users see. Messages name the
// file and the key path, never the offending value: a value may be a secret
// (an env literal), and it may be huge or binary.

type Path = readonly PropertyKey[];

// `egress[0].auth.token_ref`
export function keyPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += (out ? "." : "") + safeName(String(seg));
  }
  return out || "(top level)";
}

// User-chosen names (keys) are shown, but bounded and with control and
// non-printable characters escaped so that a message stays one line.
export function safeName(s: string): string {
  const cut = s.length > 40 ? s.slice(0, 40) + "…" : s;
  if (/^[A-Za-z0-9_.-]+$/.test(cut)) return cut;
  return JSON.stringify(cut).replace(/[^\x20-\x7e…]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

// Walks a zod schema along a key path to the object found there, so that an
// unknown key can be compared with the keys allowed at that exact place.
function defOf(s: unknown): any {
  return (s as any)?._zod?.def;
}

function unwrap(s: unknown): unknown {
  let cur = s;
  for (let i = 0; i < 16; i++) {
    const d = defOf(cur);
    if (!d) return cur;
    if (d.type === "optional" || d.type === "default" || d.type === "nullable" || d.type === "prefault") cur = d.innerType;
    else if (d.type === "pipe") cur = d.in;
    else return cur;
  }
  return cur;
}

export function schemaAt(schema: unknown, path: Path): unknown {
  let cur = unwrap(schema);
  for (const seg of path) {
    const d = defOf(cur);
    if (!d) return undefined;
    if (d.type === "array" && typeof seg === "number") cur = unwrap(d.element);
    else if (d.type === "object" && typeof seg === "string") cur = unwrap(d.shape[seg]);
    else if (d.type === "record") cur = unwrap(d.valueType);
    else return undefined;
  }
  return cur;
}

export function allowedKeysAt(schema: unknown, path: Path): string[] {
  const d = defOf(schemaAt(schema, path));
  return d?.type === "object" ? Object.keys(d.shape) : [];
}

function describeExpected(expected: string): string {
  switch (expected) {
    case "object":
    case "record":
      return "a mapping (key: value)";
    case "array":
      return "a list";
    case "string":
      return "a string (quote it if needed)";
    case "number":
    case "int":
      return "a number";
    case "boolean":
      return "true or false";
    default:
      return expected;
  }
}

// A YAML value's type, for "got ..." hints (never the value itself).
function typeOfInput(input: unknown): string {
  if (input === undefined) return "nothing";
  if (input === null) return "null";
  if (Array.isArray(input)) return "a list";
  if (typeof input === "object") return "a mapping";
  return `a ${typeof input}`;
}

function valueAt(root: unknown, path: Path): unknown {
  let cur: any = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[seg as any];
  }
  return cur;
}

export function describeIssue(schema: unknown, issue: z.core.$ZodIssue, input: unknown): string {
  const where = keyPath(issue.path);
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = allowedKeysAt(schema, issue.path);
      const key = issue.keys[0] ?? "";
      const at = keyPath([...issue.path, key]);
      const near = closest(key, allowed);
      const hint = near.length > 0 ? `did you mean ${near.map((n) => `"${n}"`).join(" or ")}?` : "";
      const more = issue.keys.length > 1 ? ` (and ${issue.keys.length - 1} more unknown key${issue.keys.length > 2 ? "s" : ""})` : "";
      return `${at}: unknown key${more}; ${hint ? hint + " " : ""}allowed keys: ${allowed.join(", ")}`;
    }
    case "invalid_type": {
      const got = typeOfInput(valueAt(input, issue.path));
      if (got === "nothing") return `${where}: required key is missing`;
      return `${where}: must be ${describeExpected(issue.expected)}, got ${got}`;
    }
    case "invalid_value":
      return `${where}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_key": {
      const inner = issue.issues[0];
      return `${where}: invalid key name: ${inner?.message ?? "not allowed here"}`;
    }
    case "invalid_format":
      return `${where}: ${issue.message.startsWith("Invalid") ? `has the wrong format (${issue.format})` : issue.message}`;
    case "too_big":
      return `${where}: too ${issue.origin === "array" ? "many entries" : issue.origin === "string" ? "long" : "big"} (max ${String(issue.maximum)})`;
    case "too_small":
      return issue.origin === "array"
        ? `${where}: must not be empty (leave the key out instead)`
        : issue.origin === "string"
          ? `${where}: must not be empty`
          : `${where}: too small (min ${String(issue.minimum)})`;
    case "invalid_union":
      return `${where}: has the wrong type or value`;
    case "custom":
      return `${where}: ${issue.message}`;
    default:
      return `${where}: invalid value`;
  }
}

// One line for the whole set of issues: the most useful one first (unknown
// keys, then everything else in document order), plus a count of the rest.
export function summarizeIssues(schema: unknown, issues: readonly z.core.$ZodIssue[], input: unknown): string {
  const sorted = [...issues].sort((a, b) => rank(a) - rank(b));
  const first = sorted[0];
  if (!first) return "invalid manifest";
  const rest = issues.length - 1;
  return describeIssue(schema, first, input) + (rest > 0 ? ` (and ${rest} more problem${rest > 1 ? "s" : ""})` : "");
}

function rank(i: z.core.$ZodIssue): number {
  return i.code === "unrecognized_keys" ? 0 : 1;
}
