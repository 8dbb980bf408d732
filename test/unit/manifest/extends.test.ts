import { describe, expect, test } from "bun:test";
import { buildCatalog, type RawFile } from "../../../src/manifest/catalog.ts";
import { mergeBottle, resolveBottle } from "../../../src/manifest/extends.ts";
import { claudeCodeRoutes } from "../../../src/defaults/claude.ts";

const file = (name: string, yaml: string): RawFile => ({ name, path: `/h/bottles/${name}.md`, bytes: `---\n${yaml}\n---\n` });
const catalog = (...bottles: RawFile[]) => buildCatalog({ homeBottles: bottles, homeAgents: [], repoAgents: [] }, {});

describe("mergeBottle", () => {
  test("env merges per key, child wins; lists replace; scalars child wins", () => {
    const parent = {
      env: { A: "p", B: "p" },
      egress: [{ host: "p.com", tls: "terminate" as const, dlp: "on" as const, allow_private: false }],
      image: "parent:1",
      supervise: true,
    };
    const child = { extends: "base", env: { B: "c", C: "c" }, egress: [{ host: "c.com", tls: "terminate" as const, dlp: "on" as const, allow_private: false }], supervise: false };
    expect(mergeBottle(parent, child)).toEqual({
      env: { A: "p", B: "c", C: "c" },
      egress: [{ host: "c.com", tls: "terminate", dlp: "on", allow_private: false }],
      image: "parent:1",
      supervise: false,
    });
  });
});

describe("resolveBottle", () => {
  test("a chain of three merges from the root down", () => {
    const c = catalog(
      file("base", "env: {A: base, B: base}\nimage: base:1"),
      file("mid", "extends: base\nenv: {B: mid}\nresources: {cpus: 2}"),
      file("top", "extends: mid\nenv: {C: top}\nimage: top:1"),
    );
    expect(resolveBottle("top", c.bottles)).toEqual({
      env: { A: "base", B: "mid", C: "top" },
      image: "top:1",
      resources: { cpus: 2 },
    });
  });
  test("bottles may extend the embedded claude bottle", () => {
    const c = catalog(file("dev", "extends: claude\nenv: {A: x}"));
    const b = resolveBottle("dev", c.bottles);
    expect(b.env).toEqual({ A: "x" });
    expect(b.egress).toEqual(claudeCodeRoutes({}));
  });
  test("self-extension", () => {
    const c = catalog(file("me", "extends: me"));
    expect(() => resolveBottle("me", c.bottles)).toThrow("bottle 'me' (/h/bottles/me.md) extends itself; remove 'extends: me'");
  });
  test("cycles show the chain", () => {
    const c = catalog(file("a", "extends: b"), file("b", "extends: a"));
    expect(() => resolveBottle("a", c.bottles)).toThrow("bottles extend each other in a cycle: a -> b -> a (/h/bottles/b.md); remove one 'extends'");
    const d = catalog(file("a", "extends: b"), file("b", "extends: c"), file("c", "extends: b"));
    expect(() => resolveBottle("a", d.bottles)).toThrow("bottles extend each other in a cycle: b -> c -> b (/h/bottles/c.md); remove one 'extends'");
  });
  test("a missing parent lists the bottles that exist", () => {
    const c = catalog(file("dev", "extends: base"));
    expect(() => resolveBottle("dev", c.bottles)).toThrow(
      "bottle 'dev' (/h/bottles/dev.md) extends 'base', which does not exist; bottles: claude, dev",
    );
  });
  test("a home bottle named claude replaces the embedded one", () => {
    const c = catalog(file("claude", "image: mine:1"));
    expect(resolveBottle("claude", c.bottles)).toEqual({ image: "mine:1" });
  });
});
