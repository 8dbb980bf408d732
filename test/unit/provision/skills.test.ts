import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../../src/errors.ts";
import type { Spec } from "../../../src/manifest/spec.ts";
import { GUEST_HOME } from "../../../src/backends/guest.ts";
import { checkSkills, guestSkillDir, hostSkillDir } from "../../../src/provision/skills.ts";

const root = mkdtempSync(join(tmpdir(), "cb-skills-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function spec(skills: string[]): Spec {
  return { agent: "dev", skills } as unknown as Spec;
}

describe("skills", () => {
  test("host and guest locations", () => {
    expect(hostSkillDir("review", { HOME: "/h/u" })).toBe("/h/u/.claude/skills/review");
    expect(guestSkillDir("review")).toBe(`${GUEST_HOME}/.claude/skills/review`);
  });

  test("every named skill must be a directory on the host, in order", () => {
    const home = join(root, "home");
    mkdirSync(join(home, ".claude", "skills", "a"), { recursive: true });
    mkdirSync(join(home, ".claude", "skills", "b"), { recursive: true });
    writeFileSync(join(home, ".claude", "skills", "file"), "not a dir");
    expect(checkSkills(spec(["b", "a"]), { HOME: home })).toEqual([join(home, ".claude/skills/b"), join(home, ".claude/skills/a")]);
    expect(() => checkSkills(spec(["a", "missing"]), { HOME: home })).toThrow(UserError);
    expect(() => checkSkills(spec(["file"]), { HOME: home })).toThrow(/skill file not found: .* is not a directory/);
  });
});
