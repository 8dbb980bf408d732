import { afterEach, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { savedSpec } from "../../../src/launch/attach.ts";
import { launch } from "../../../src/launch/launcher.ts";
import { loadResumable } from "../../../src/launch/resume.ts";
import { teardownResources } from "../../../src/launch/teardown.ts";
import { listStateDirs } from "../../../src/state/dirs.ts";
import { readMetadata, requireMetadata } from "../../../src/state/metadata.ts";
import { paths } from "../../../src/state/paths.ts";
import { harness } from "./fixtures/harness.ts";
import { testPlan, testSpec } from "./fixtures/spec.ts";

// spec.json, plan.json and metadata.json are read back through their
// schemas: a damaged file is one line naming the file and where it is
// wrong, never its contents (spec.json holds literal env values).

const disposers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

const LITERAL = "literal-value-Qx81";

// A session that ended non-zero: its state is kept for resume, written by
// the real launcher.
async function preserved(slug: string) {
  const h = harness({ agentArgv: ["sh", "-c", "exit 3"] });
  disposers.push(async () => {
    for (const s of listStateDirs(h.home)) await teardownResources(s.stateDir, s.slug, h.fake.backend);
    h.dispose();
  });
  const spec = testSpec({ env: [{ name: "LIT", kind: "literal", value: LITERAL }] });
  expect(await launch({ spec, plan: testPlan(slug, spec), detached: false, cwd: "/w" }, h.deps)).toBe(3);
  return { home: h.home, dir: paths.stateDir(h.home, slug), spec };
}

test("a kept session reads back whole: the spec and plan as written", async () => {
  const { home, dir, spec } = await preserved("tester-sf001");
  const r = loadResumable(home, "tester-sf001");
  expect(r.spec).toEqual(spec);
  expect(r.plan).toEqual(JSON.parse(readFileSync(paths.plan(dir), "utf8")));
  expect(r.meta.slug).toBe("tester-sf001");
  expect(await savedSpec(dir)).toEqual(spec);
});

test("a spec.json cut short, a plan.json with a wrong field, a missing one: one line each, no contents", async () => {
  const { home, dir } = await preserved("tester-sf002");
  const whole = readFileSync(paths.spec(dir), "utf8");
  writeFileSync(paths.spec(dir), whole.slice(0, whole.indexOf(LITERAL) + 8));
  const cut = () => loadResumable(home, "tester-sf002");
  expect(cut).toThrow(`state of tester-sf002 is incomplete: ${paths.spec(dir)} is not valid JSON; remove it with 'claude-bottle down tester-sf002'`);
  await expect(savedSpec(dir)).rejects.toThrow(`${paths.spec(dir)} is not valid JSON; start a new bottle with 'claude-bottle up'`);

  writeFileSync(paths.spec(dir), whole);
  const plan = JSON.parse(readFileSync(paths.plan(dir), "utf8"));
  writeFileSync(paths.plan(dir), JSON.stringify({ ...plan, backend: "vmware" }));
  expect(() => loadResumable(home, "tester-sf002")).toThrow(/plan\.json is damaged at backend \(Invalid option: expected one of "docker"\|"smolmachines"\)/);

  rmSync(paths.plan(dir));
  expect(() => loadResumable(home, "tester-sf002")).toThrow(`${paths.plan(dir)} is missing`);

  // The literal env value is never part of a message.
  writeFileSync(paths.spec(dir), whole.replace(`"value": "${LITERAL}"`, `"value": 7, "x": "${LITERAL}"`));
  let message = "";
  try {
    await savedSpec(dir);
  } catch (e) {
    message = (e as Error).message;
  }
  expect(message).toMatch(/spec\.json is damaged at env\.0\.value/);
  expect(message).not.toContain(LITERAL);
});

test("damaged metadata.json: 'no bottle' only when it is missing", async () => {
  const { dir } = await preserved("tester-sf003");
  writeFileSync(paths.metadata(dir), "{\"version\": 1, \"slug\": ");
  expect(readMetadata(dir)).toBeNull(); // ls and cleanup: as if there were none
  expect(() => requireMetadata(dir, "tester-sf003")).toThrow(
    `${paths.metadata(dir)} is not valid JSON; remove the bottle with 'claude-bottle down tester-sf003'`,
  );
  rmSync(paths.metadata(dir));
  expect(() => requireMetadata(dir, "tester-sf003")).toThrow("no bottle tester-sf003; 'claude-bottle ls' lists bottles");
});
