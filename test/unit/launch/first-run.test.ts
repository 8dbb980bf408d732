import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDockerBackend } from "../../../src/backends/docker/index.ts";
import { createSmolmachinesBackend } from "../../../src/backends/smolmachines/index.ts";
import { FIRST_RUN_MARKER, firstRunTopics, imageTopic, parseMarker, takeFirstRunLines, type FirstRunContext } from "../../../src/launch/first-run.ts";

// The real backends' own texts (constructing a backend runs nothing).
const dockerBackend = createDockerBackend({ hostEnv: {} });
const smolBackend = createSmolmachinesBackend({ hostEnv: {} });
const docker: FirstRunContext = { backend: dockerBackend, usingDefaults: true };
const smol: FirstRunContext = { backend: smolBackend, usingDefaults: true };
const dockerStart = () => firstRunTopics(docker);
const homes: string[] = [];
const home = () => {
  const h = mkdtempSync(join(tmpdir(), "cb-first-run-"));
  homes.push(h);
  return h;
};
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe("firstRunTopics", () => {
  test("explains every step of a from-scratch docker run, in order; the image build is not among them (the launcher explains it when it happens)", () => {
    expect(firstRunTopics(docker).map((t) => t.id)).toEqual(["intro", "defaults", "backend:docker", "gate", "ca", "attach"]);
  });

  test("leaves out the defaults topic when manifests exist; the backend topic is the backend's own", () => {
    const topics = firstRunTopics({ backend: smolBackend, usingDefaults: false });
    expect(topics.map((t) => t.id)).toEqual(["intro", "backend:smolmachines", "gate", "ca", "attach"]);
    expect(topics[1]!.lines).toEqual([`Backend smolvm: ${smolBackend.about.sealLine}`]);
  });

  test("each backend supplies its own seal and image lines; none borrows another's", () => {
    expect(firstRunTopics(docker).flatMap((t) => t.lines).join("\n")).not.toContain("microVM");
    expect(firstRunTopics(smol).flatMap((t) => t.lines).join("\n")).not.toContain("--network none");
    expect(imageTopic(dockerBackend)).toEqual({ id: "image:docker", lines: [expect.stringContaining("Building the agent image")] });
    expect(imageTopic(smolBackend)).toEqual({ id: "image:smolmachines", lines: [expect.stringContaining("Preparing the agent image for smolvm")] });
  });

  // Seen as a new user: `init`, then `up -d` of the built-in agent, was told
  // "No manifests in ~/.claude-bottle yet" and "The agent prompt that
  // follows ... Leaving the agent stops the bottle", neither of them true.
  test("says only what is true: the built-in agent runs (manifests may exist); no agent prompt follows a detached start", () => {
    const text = firstRunTopics(docker).flatMap((t) => t.lines).join("\n");
    expect(text).not.toContain("No manifests");
    expect(text).toContain("built-in `default` agent");
    const detached = firstRunTopics({ ...docker, detached: true });
    expect(detached.map((t) => t.id)).toEqual(["intro", "defaults", "backend:docker", "gate", "ca"]);
    expect(detached.flatMap((t) => t.lines).join("\n")).not.toContain("agent prompt that follows");
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
    const first = takeFirstRunLines(h, dockerStart());
    expect(first.length).toBeGreaterThan(5);
    expect(first[0]).toContain("First run");
    const marker = join(h, FIRST_RUN_MARKER);
    expect(JSON.parse(readFileSync(marker, "utf8")).shown).toContain("backend:docker");
    expect(statSync(marker).mode & 0o777).toBe(0o600);
    expect(takeFirstRunLines(h, dockerStart())).toEqual([]);
    // The image topic is its own: taken when a build starts, once.
    expect(takeFirstRunLines(h, [imageTopic(dockerBackend)])).toEqual([dockerBackend.about.imageLine]);
    expect(takeFirstRunLines(h, [imageTopic(dockerBackend)])).toEqual([]);
  });

  test("a later run with another backend explains only what is new", () => {
    const h = home();
    takeFirstRunLines(h, dockerStart());
    const later = takeFirstRunLines(h, firstRunTopics(smol));
    expect(later.join("\n")).toContain("smolvm");
    expect(later.join("\n")).not.toContain("First run");
    expect(later.join("\n")).not.toContain("certificate authority");
    expect(takeFirstRunLines(h, firstRunTopics(smol))).toEqual([]);
  });

  test("creates a missing home directory (0700)", () => {
    const h = join(home(), "nested", "home");
    expect(takeFirstRunLines(h, dockerStart()).length).toBeGreaterThan(0);
    expect(statSync(h).mode & 0o777).toBe(0o700);
  });

  test("a foreign marker file counts as already explained", () => {
    const h = home();
    writeFileSync(join(h, FIRST_RUN_MARKER), "");
    expect(takeFirstRunLines(h, dockerStart())).toEqual([]);
  });
});

test("parseMarker", () => {
  expect(parseMarker(undefined)).toEqual(new Set());
  expect(parseMarker('{"shown":["gate","ca"]}\n')).toEqual(new Set(["gate", "ca"]));
  expect(parseMarker("not json")).toBe("all");
  expect(parseMarker('{"shown":[1]}')).toBe("all");
});
