import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIRST_RUN_MARKER, firstRunTopics, parseMarker, takeFirstRunLines, type FirstRunContext } from "../../../src/launch/first-run.ts";

const docker: FirstRunContext = { backend: "docker", usingDefaults: true };
const home = () => mkdtempSync(join(tmpdir(), "cb-first-run-"));

describe("firstRunTopics", () => {
  test("explains every step of a from-scratch docker run, in order", () => {
    expect(firstRunTopics(docker).map((t) => t.id)).toEqual(["intro", "defaults", "backend:docker", "image:docker", "gate", "ca", "attach"]);
  });

  test("leaves out the defaults topic when manifests exist; the image topic follows the backend", () => {
    const ids = firstRunTopics({ backend: "smolmachines", usingDefaults: false }).map((t) => t.id);
    expect(ids).toEqual(["intro", "backend:smolmachines", "image:smolmachines", "gate", "ca", "attach"]);
  });

  test("names the commands a new user needs", () => {
    const text = firstRunTopics(docker).flatMap((t) => t.lines).join("\n");
    expect(text).toContain("claude-bottle init");
    expect(text).toContain("claude-bottle logs");
    expect(text).toContain("--network none");
  });
});

describe("takeFirstRunLines", () => {
  test("shows the lines once, then never again, and records them in <home>/.first-run-done", () => {
    const h = home();
    const first = takeFirstRunLines(h, docker);
    expect(first.length).toBeGreaterThan(5);
    expect(first[0]).toContain("First run");
    const marker = join(h, FIRST_RUN_MARKER);
    expect(JSON.parse(readFileSync(marker, "utf8")).shown).toContain("image:docker");
    expect(statSync(marker).mode & 0o777).toBe(0o600);
    expect(takeFirstRunLines(h, docker)).toEqual([]);
  });

  test("a later run with another backend explains only what is new", () => {
    const h = home();
    takeFirstRunLines(h, docker);
    const later = takeFirstRunLines(h, { backend: "smolmachines", usingDefaults: true });
    expect(later.join("\n")).toContain("smolvm");
    expect(later.join("\n")).not.toContain("First run");
    expect(later.join("\n")).not.toContain("certificate authority");
    expect(takeFirstRunLines(h, { backend: "smolmachines", usingDefaults: true })).toEqual([]);
  });

  test("creates a missing home directory (0700)", () => {
    const h = join(home(), "nested", "home");
    expect(takeFirstRunLines(h, docker).length).toBeGreaterThan(0);
    expect(statSync(h).mode & 0o777).toBe(0o700);
  });

  test("a foreign marker file counts as already explained", () => {
    const h = home();
    writeFileSync(join(h, FIRST_RUN_MARKER), "");
    expect(takeFirstRunLines(h, docker)).toEqual([]);
  });
});

test("parseMarker", () => {
  expect(parseMarker(undefined)).toEqual(new Set());
  expect(parseMarker('{"shown":["gate","ca"]}\n')).toEqual(new Set(["gate", "ca"]));
  expect(parseMarker("not json")).toBe("all");
  expect(parseMarker('{"shown":[1]}')).toBe("all");
});
