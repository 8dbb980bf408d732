import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import ts from "typescript";

// The import rules of docs/design/architecture.md, checked: the table there
// is read as it is written, so the page and the code cannot drift apart.
// Imports are found by TypeScript's own pre-processor (static, type-only,
// re-exports, dynamic import(); comments and strings are not imports).

const ROOT = join(import.meta.dir, "..", "..");
const SRC = join(ROOT, "src");
const DOC = join(ROOT, "docs", "design", "architecture.md");

interface Rules {
  // room -> what it may import: room names ("gate") or files ("backends/names.ts"); "*" for anything.
  allowed: Map<string, string[]>;
  // Files every room may import ("errors.ts").
  shared: string[];
}

// Room of a file under src/: its top folder, or the file itself at the top.
export function roomOf(rel: string): string {
  const i = rel.indexOf("/");
  return i < 0 ? rel : rel.slice(0, i);
}

export function parseRules(markdown: string): Rules {
  const names = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\/$/, ""));
  const sharedLine = markdown.split("\n").find((l) => l.startsWith("Shared by every room:"));
  if (!sharedLine) throw new Error("architecture.md: no 'Shared by every room:' line");
  const allowed = new Map<string, string[]>();
  const section = markdown.slice(markdown.indexOf("## Rooms"), markdown.indexOf("\n## ", markdown.indexOf("## Rooms") + 1));
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 5 || !cells[1]!.startsWith("`")) continue;
    const room = names(cells[1]!)[0]!;
    const may = cells[3]!;
    allowed.set(room, may === "anything" ? ["*"] : may === "—" ? [] : names(may));
  }
  return { allowed, shared: names(sharedLine) };
}

export interface Edge {
  from: string; // file under src/
  to: string; // resolved target, relative to src/ (may start with ../)
}

// The edges that break the rules, as readable lines.
export function violations(edges: Edge[], rules: Rules, files: string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    // A shared file is a room of its own that imports no other room.
    if (!rules.allowed.has(roomOf(f)) && !rules.shared.includes(f)) out.push(`${f}: room '${roomOf(f)}' is not in the table of docs/design/architecture.md`);
  }
  for (const { from, to } of edges) {
    if (to.startsWith("../")) {
      if (to !== "../package.json") out.push(`${from} imports ${to}, outside src/`);
      continue;
    }
    const a = roomOf(from);
    const b = roomOf(to);
    if (a === b || rules.shared.includes(to)) continue;
    const may = rules.allowed.get(a) ?? [];
    if (may.includes("*") || may.includes(b) || may.includes(to)) continue;
    out.push(`${from} imports ${to}: ${a} may not import ${b}`);
  }
  return out;
}

function sourceEdges(): { edges: Edge[]; files: string[] } {
  const files = [...new Glob("**/*.ts").scanSync(SRC)].sort();
  const edges: Edge[] = [];
  for (const f of files) {
    const info = ts.preProcessFile(readFileSync(join(SRC, f), "utf8"), true, true);
    for (const imp of info.importedFiles) {
      if (!imp.fileName.startsWith(".")) continue; // packages and node: builtins
      edges.push({ from: f, to: relative(SRC, normalize(join(SRC, dirname(f), imp.fileName))) });
    }
  }
  return { edges, files };
}

const rules = parseRules(readFileSync(DOC, "utf8"));

describe("docs/design/architecture.md holds for src/", () => {
  test("every import follows the table", () => {
    const { edges, files } = sourceEdges();
    // The scan saw the tree (a broken glob or parser would pass vacuously).
    expect(files.length).toBeGreaterThan(150);
    expect(edges.length).toBeGreaterThan(500);
    expect(edges).toContainEqual({ from: "vhosts.ts", to: "git/vhost.ts" });
    expect(violations(edges, rules, files)).toEqual([]);
  });

  test("the rules the design depends on are in the table", () => {
    const gate = rules.allowed.get("gate")!;
    for (const never of ["requests", "git", "policy", "launch", "backends", "provision", "commands"]) expect(gate).not.toContain(never);
    expect(rules.allowed.get("backends")).not.toContain("provision");
    for (const low of ["ui", "state", "manifest", "plan", "backends"]) {
      for (const high of ["gate", "launch", "commands", "requests", "supervise"]) expect(rules.allowed.get(low)).not.toContain(high);
    }
    expect(rules.shared).toEqual(["errors.ts", "version.ts", "self.ts", "child-env.ts", "zod.ts"]);
  });
});

describe("the checker", () => {
  const files = ["gate/server.ts", "requests/vhost.ts", "backends/docker/index.ts", "provision/provision.ts", "errors.ts"];
  test("reports a gate -> requests edge, a backends -> provision edge, an import from outside src/ and an unknown room", () => {
    const found = violations(
      [
        { from: "gate/server.ts", to: "requests/vhost.ts" },
        { from: "backends/docker/index.ts", to: "provision/provision.ts" },
        { from: "gate/server.ts", to: "../test/helpers/x.ts" },
        { from: "requests/vhost.ts", to: "gate/types.ts" },
        { from: "gate/server.ts", to: "errors.ts" },
        { from: "gate/server.ts", to: "../package.json" },
      ],
      rules,
      [...files, "newroom/x.ts"],
    );
    expect(found).toEqual([
      "newroom/x.ts: room 'newroom' is not in the table of docs/design/architecture.md",
      "gate/server.ts imports requests/vhost.ts: gate may not import requests",
      "backends/docker/index.ts imports provision/provision.ts: backends may not import provision",
      "gate/server.ts imports ../test/helpers/x.ts, outside src/",
    ]);
  });
  test("a file-level allowance covers that file only", () => {
    expect(violations([{ from: "state/metadata.ts", to: "backends/names.ts" }], rules, [])).toEqual([]);
    expect(violations([{ from: "state/metadata.ts", to: "backends/types.ts" }], rules, [])).toEqual([
      "state/metadata.ts imports backends/types.ts: state may not import backends",
    ]);
  });
  test("type-only and dynamic imports are seen", () => {
    const info = ts.preProcessFile('import type { X } from "../gate/types.ts";\nconst m = await import("../git/vhost.ts");\n// import "../nope.ts"\n', true, true);
    expect(info.importedFiles.map((i) => i.fileName)).toEqual(["../gate/types.ts", "../git/vhost.ts"]);
  });
});
