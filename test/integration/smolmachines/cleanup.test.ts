import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSmolmachinesBackend } from "../../../src/backends/smolmachines/index.ts";
import { FAKE_SMOLVM, fake, fakeImage, makeWorld, type World } from "./helpers.ts";

// After a kill -9, `cleanup` finds our machines by label and removes them,
// and leaves every other machine alone.

let world: World;
beforeAll(() => {
  world = makeWorld();
  const img = fakeImage(world);
  const sf = join(world.root, "Smolfile");
  writeFileSync(sf, "");
  const mk = (name: string, labels: string[]) =>
    expect(fake(world, ["machine", "create", "--name", name, "-s", sf, "--image", img, ...labels.flatMap((l) => ["--label", l])]).code).toBe(0);
  mk("claude-bottle-dev-aaaaa", ["claude-bottle=1", "claude-bottle.slug=dev-aaaaa"]);
  mk("claude-bottle-dev-bbbbb", ["claude-bottle=1", "claude-bottle.slug=dev-bbbbb"]);
  mk("someone-else", ["owner=other"]);
  mk("no-labels", []);
  expect(fake(world, ["machine", "start", "--name", "claude-bottle-dev-aaaaa"]).code).toBe(0);
  mkdirSync(join(world.home, "state", "dev-bbbbb"), { recursive: true });
});
afterAll(() => world?.cleanup());

test("list and cleanupPlan see only labelled machines; cleanup deletes them, running or not", async () => {
  const backend = createSmolmachinesBackend({ home: world.home, smolvmBin: FAKE_SMOLVM, hostEnv: world.env });
  expect((await backend.list()).map((b) => [b.slug, b.status]).sort()).toEqual([
    ["dev-aaaaa", "running"],
    ["dev-bbbbb", "created"],
  ]);
  const plan = await backend.cleanupPlan();
  expect(plan.map((i) => i.id).sort()).toEqual(["claude-bottle-dev-aaaaa", "claude-bottle-dev-bbbbb"]);
  expect(plan.find((i) => i.id === "claude-bottle-dev-aaaaa")?.detail).toContain("no state dir");
  expect(plan.find((i) => i.id === "claude-bottle-dev-bbbbb")?.detail).not.toContain("no state dir");
  await backend.cleanup(plan);
  await backend.cleanup(plan); // again: already gone is fine
  const left = JSON.parse(fake(world, ["machine", "ls", "--json"]).stdout) as { name: string }[];
  expect(left.map((m) => m.name).sort()).toEqual(["no-labels", "someone-else"]);
});
