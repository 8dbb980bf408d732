import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCatalog } from "../../../src/manifest/load.ts";
import { resolveSpec } from "../../../src/manifest/resolve.ts";

// The loader against real directories: which files are read and which are not.
const FIXTURE = join(import.meta.dir, "../../fixtures/manifests/basic");
const tmp = mkdtempSync(join(tmpdir(), "cb-load-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function fixtureCopy(name: string): { home: string; repo: string } {
  const dir = join(tmp, name);
  cpSync(FIXTURE, dir, { recursive: true });
  return { home: join(dir, "home"), repo: join(dir, "repo") };
}

const ws = (cwd: string) => ({ cwd, gitRoot: null, mountFlag: false });

describe("trust boundary", () => {
  test("a bottle under ./.claude-bottle/bottles is never loaded, with a warning", () => {
    const { home, repo } = fixtureCopy("trust");
    const { catalog, warnings } = loadCatalog(home, repo, {});
    expect([...catalog.bottles.keys()].sort()).toEqual(["claude", "dev"]);
    expect(warnings).toContain(
      `ignoring ${join(repo, ".claude-bottle/bottles")}: bottles are only read from ${join(home, "bottles")} (a repository must not decide where your secrets go)`,
    );
    // The repo agent that wants the repo's bottle cannot have it.
    expect(() => resolveSpec(catalog, "sneaky", {}, ws(repo))).toThrow(
      `agent 'sneaky' (${join(repo, ".claude-bottle/agents/sneaky.md")}) uses bottle 'evil', which does not exist; bottles: claude, dev`,
    );
    // No route to the attacker's host exists in any spec.
    for (const a of ["coder", "reviewer", "default"]) {
      expect(resolveSpec(catalog, a, {}, ws(repo)).egress.some((r) => r.host.includes("attacker"))).toBe(false);
    }
  });
  test("repo agents are loaded and may use home bottles", () => {
    const { home, repo } = fixtureCopy("repo-agents");
    const { catalog } = loadCatalog(home, repo, {});
    const spec = resolveSpec(catalog, "reviewer", {}, ws(repo));
    expect(spec.bottle).toBe("dev");
    expect(spec.prompt).toBe("You review code.");
    expect(spec.workspace).toEqual({ mode: "none", path: null });
  });
  test("running from the home folder's parent reads ./.claude-bottle once, as home", () => {
    const dir = join(tmp, "as-home");
    mkdirSync(join(dir, ".claude-bottle/bottles"), { recursive: true });
    mkdirSync(join(dir, ".claude-bottle/agents"), { recursive: true });
    writeFileSync(join(dir, ".claude-bottle/bottles/b.md"), "---\n---\n");
    writeFileSync(join(dir, ".claude-bottle/agents/a.md"), "---\nbottle: b\n---\n");
    const { catalog, warnings } = loadCatalog(join(dir, ".claude-bottle"), dir, {});
    expect(warnings).toEqual([]);
    expect(catalog.bottles.has("b")).toBe(true);
    expect(catalog.agents.get("a")?.origin).toBe("home");
  });
});

describe("files and names", () => {
  test("names not matching [a-z][a-z0-9-]*.md are skipped with a warning", () => {
    const { home, repo } = fixtureCopy("names");
    writeFileSync(join(home, "agents", "notes.txt"), "x");
    const { catalog, warnings } = loadCatalog(home, repo, {});
    expect(catalog.agents.has("Bad_Name")).toBe(false);
    expect(warnings).toContain(`skipping ${join(repo, ".claude-bottle/agents/Bad_Name.md")}: manifest file names must look like my-name.md (a-z, 0-9, -)`);
    expect(warnings).toContain(`skipping ${join(home, "agents/notes.txt")}: manifest file names must look like my-name.md (a-z, 0-9, -)`);
  });
  test("a broken symlink and a directory are skipped with warnings", () => {
    const { home, repo } = fixtureCopy("links");
    symlinkSync(join(tmp, "nowhere"), join(home, "agents", "dangling.md"));
    mkdirSync(join(home, "agents", "adir.md"));
    const { warnings } = loadCatalog(home, repo, {});
    expect(warnings).toContain(`skipping ${join(home, "agents/dangling.md")}: cannot be read (broken link?)`);
    expect(warnings).toContain(`skipping ${join(home, "agents/adir.md")}: not a regular file`);
  });
  test("a repo agent with a home agent's name names both files", () => {
    const { home, repo } = fixtureCopy("dup");
    writeFileSync(join(repo, ".claude-bottle/agents/coder.md"), "---\nbottle: dev\n---\n");
    expect(() => loadCatalog(home, repo, {})).toThrow(
      `agent 'coder' is defined twice: ${join(home, "agents/coder.md")} and ${join(repo, ".claude-bottle/agents/coder.md")}; rename or remove one of them`,
    );
  });
  test("an invalid file anywhere is an error naming it", () => {
    const { home, repo } = fixtureCopy("invalid");
    writeFileSync(join(home, "bottles", "broken.md"), "---\negres: []\n---\n");
    expect(() => loadCatalog(home, repo, {})).toThrow(`${join(home, "bottles/broken.md")}: egres: unknown key; did you mean "egress"?`);
  });
  test("an oversized file is refused before it is read", () => {
    const { home, repo } = fixtureCopy("huge");
    writeFileSync(join(home, "agents", "big.md"), "---\nbottle: dev\n---\n" + "x".repeat(300 * 1024));
    expect(() => loadCatalog(home, repo, {})).toThrow(`${join(home, "agents/big.md")}: file is too large (`);
  });
  test("no home folder at all: only the embedded defaults", () => {
    const { catalog, warnings } = loadCatalog(join(tmp, "does-not-exist"), join(tmp, "also-not"), {});
    expect([...catalog.bottles.keys()]).toEqual(["claude"]);
    expect([...catalog.agents.keys()]).toEqual(["default"]);
    expect(warnings).toEqual([]);
  });
});
