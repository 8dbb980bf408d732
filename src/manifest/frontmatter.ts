import { isMap, isScalar, isSeq, parseDocument } from "yaml";
import { UserError } from "../errors.ts";
import { keyPath, safeName } from "./issues.ts";

// Markdown + YAML frontmatter, parsed strictly and with bounds so that a
// hostile or broken file (a cloned repo can ship agent files) gives one clean
// error line instead of a crash, a hang or a huge allocation.

export const MAX_FILE_BYTES = 256 * 1024;
export const MAX_FRONTMATTER_BYTES = 64 * 1024;
const MAX_ALIASES = 64;
const MAX_DEPTH = 32;

export interface ParsedMarkdown {
  data: Record<string, unknown>;
  body: string;
}

// One description per error code the YAML library can raise (its ErrorCode
// type, yaml/dist/errors.d.ts; a unit test checks none is missing), since
// its own messages are never shown.
export const YAML_CODES: Record<string, string> = {
  ALIAS_PROPS: "an alias (*name) cannot have an anchor or a tag",
  BAD_COLLECTION_TYPE: "a tag that does not fit its value (like !!map on a list)",
  BAD_DIRECTIVE: "a % directive line the parser does not know",
  BAD_PROP_ORDER: "an anchor or tag before the '?', ':' or '-' it belongs after",
  BLOCK_IN_FLOW: "an indented block inside [ ] or { } (write it inline there)",
  // The library's "cannot happen" state, reached through structures a
  // manifest never needs (e.g. a comment between keys that are mappings).
  IMPOSSIBLE: "a structure the parser cannot read (keys are plain names, like name: value)",
  MULTIPLE_TAGS: "more than one tag on a node",
  NON_STRING_KEY: "a key that is not a plain name",
  DUPLICATE_KEY: "duplicate key",
  BAD_INDENT: "bad indentation",
  TAB_AS_INDENT: "tab used for indentation (use spaces)",
  MISSING_CHAR: "missing quote, bracket, comma or colon",
  UNEXPECTED_TOKEN: "unexpected character",
  BLOCK_AS_IMPLICIT_KEY: "a block value is used as a key",
  MULTILINE_IMPLICIT_KEY: "a key spans several lines",
  MULTIPLE_DOCS: "more than one YAML document",
  TAG_RESOLVE_FAILED: "unknown tag (tags like !!binary are not allowed)",
  BAD_ALIAS: "bad alias",
  MULTIPLE_ANCHORS: "more than one anchor on a node",
  BAD_SCALAR_START: "a plain value starts with a reserved character (quote it)",
  BAD_DQ_ESCAPE: "invalid escape in a double-quoted string",
  KEY_OVER_1024_CHARS: "key longer than 1024 characters",
  RESOURCE_EXHAUSTION: "nested too deeply or too many aliases",
};

// Messages from the YAML library can quote the source text, which may be a
// secret: only our own fixed descriptions and positions are ever shown.
function yamlProblem(code: string, src: string, pos: readonly number[] | undefined, linePos: any): string {
  let what = YAML_CODES[code] ?? code.toLowerCase().replace(/_/g, " ");
  if (code === "DUPLICATE_KEY" && pos && pos[0] !== undefined) {
    // Only a plain key name is shown (it is a name, not a value).
    const key = /^[A-Za-z0-9_.-]+(?=\s*:)/.exec(src.slice(pos[0], pos[0] + 80))?.[0];
    if (key) what = `duplicate key ${safeName(key)}`;
  }
  const at = linePos?.[0] ? ` at frontmatter line ${linePos[0].line}, column ${linePos[0].col}` : "";
  return `invalid YAML${at}: ${what}`;
}

// Flow collections ([ and {) nest without indentation, so a few KiB can be
// thousands of levels deep; refuse that before the parser recurses into it.
// Brackets inside quotes are skipped (roughly: enough to never reject a real
// manifest, which nests a handful of levels).
function flowDepthExceeds(src: string, max: number): boolean {
  let depthNow = 0;
  let quote: string | null = null;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (quote) {
      // A quote ends at its twin, or (for an apostrophe in a plain value
      // like "don't") at the end of the line.
      if (c === quote || c === "\n") quote = null;
      else if (c === "\\" && quote === '"') i++;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === "[" || c === "{") {
      if (++depthNow > max) return true;
    } else if (c === "]" || c === "}") depthNow = Math.max(0, depthNow - 1);
  }
  return false;
}

// A key that is a list or a mapping (`? [a, b]`), or an alias: a manifest
// names every key, and a JS object cannot hold such a key anyway (the YAML
// library would turn it into a string, and warn on the process's stderr,
// quoting it). Where: the path of the mapping holding it, and its offset.
function complexKey(node: unknown, path: (string | number)[] = [], d = 0): { path: (string | number)[]; offset: number | undefined } | null {
  if (d > MAX_DEPTH) return null; // refused as too deep afterwards
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isScalar(pair.key)) return { path, offset: (pair.key as { range?: number[] } | null)?.range?.[0] };
      const found = complexKey(pair.value, [...path, String(pair.key.value)], d + 1);
      if (found) return found;
    }
  } else if (isSeq(node)) {
    for (const [i, v] of node.items.entries()) {
      const found = complexKey(v, [...path, i], d + 1);
      if (found) return found;
    }
  }
  return null;
}

// "at frontmatter line L, column C" for an offset into the frontmatter.
function at(src: string, offset: number | undefined): string {
  if (offset === undefined) return "";
  const before = src.slice(0, offset);
  return ` at frontmatter line ${before.split("\n").length}, column ${offset - before.lastIndexOf("\n")}`;
}

function depth(v: unknown, d = 0): number {
  if (d > MAX_DEPTH) return d;
  if (v === null || typeof v !== "object") return d;
  let max = d;
  for (const x of Object.values(v as object)) max = Math.max(max, depth(x, d + 1));
  return max;
}

export function decodeText(file: string, bytes: Uint8Array): string {
  if (bytes.length > MAX_FILE_BYTES) {
    throw new UserError(`${file}: file is too large (${bytes.length} bytes, max ${MAX_FILE_BYTES}); keep manifests small`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new UserError(`${file}: not UTF-8 text; save the file as UTF-8`);
  }
  // NUL and other C0 controls (except tab, LF, CR) mean a binary file.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) {
    throw new UserError(`${file}: contains binary control characters; a manifest must be plain text`);
  }
  return text;
}

export function parseMarkdown(file: string, input: Uint8Array | string): ParsedMarkdown {
  const raw = typeof input === "string" ? decodeText(file, new TextEncoder().encode(input)) : decodeText(file, input);
  const text = raw.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const lines = text.split("\n");
  if (lines[0]?.trimEnd() !== "---") {
    throw new UserError(`${file}: no YAML frontmatter; the file must start with a line '---' and the settings must end with another '---'`);
  }
  let end = -1;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!.trimEnd();
    if (l === "---" || l === "...") {
      end = i;
      break;
    }
  }
  if (end < 0) throw new UserError(`${file}: frontmatter is not closed; add a line '---' after the settings`);
  const yamlText = lines.slice(1, end).join("\n");
  const body = lines.slice(end + 1).join("\n").trim();
  if (yamlText.length > MAX_FRONTMATTER_BYTES) {
    throw new UserError(`${file}: frontmatter is too large (max ${MAX_FRONTMATTER_BYTES} bytes)`);
  }
  if (flowDepthExceeds(yamlText, MAX_DEPTH)) throw new UserError(`${file}: frontmatter is nested too deeply (max ${MAX_DEPTH} levels)`);
  let data: unknown;
  try {
    const doc = parseDocument(yamlText, {
      version: "1.2",
      schema: "core",
      merge: false,
      uniqueKeys: true,
      strict: true,
      prettyErrors: true,
      keepSourceTokens: false,
      // Never a warning of the library's own on the process's stderr (a
      // stray line for the user, quoting the source): what parsing finds
      // is in doc.errors and doc.warnings, reported below as ours, and
      // what toJS() would warn about (a key that is a collection) is
      // refused before it.
      logLevel: "error",
    });
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) throw new UserError(`${file}: ${yamlProblem(problem.code, yamlText, problem.pos, problem.linePos)}`);
    const complex = complexKey(doc.contents);
    if (complex) {
      const where = complex.path.length ? `in ${keyPath(complex.path)}` : "at the top level";
      throw new UserError(`${file}: invalid YAML${at(yamlText, complex.offset)}: a list, mapping or alias used as a key ${where} (keys are plain names)`);
    }
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    if (e instanceof UserError) throw e;
    // Alias bombs, stack exhaustion on absurd nesting, and anything else
    // the parser throws: one line, no library text.
    const why = e instanceof ReferenceError ? "too many aliases" : e instanceof RangeError ? "nested too deeply" : "could not be parsed";
    throw new UserError(`${file}: invalid YAML: ${why}`);
  }
  if (data === null || data === undefined) data = {};
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new UserError(`${file}: frontmatter must be a mapping of keys (key: value), not ${Array.isArray(data) ? "a list" : "a single value"}`);
  }
  if (depth(data) > MAX_DEPTH) throw new UserError(`${file}: frontmatter is nested too deeply (max ${MAX_DEPTH} levels)`);
  return { data: data as Record<string, unknown>, body };
}
