import { expect, test } from "bun:test";
import { composeCleanupPlan, formatCleanupPlan } from "../../../src/launch/cleanup.ts";
import type { StateSnapshot } from "../../../src/launch/inspect.ts";

const snap = (slug: string, over: Partial<StateSnapshot> = {}): StateSnapshot => ({
  slug,
  stateDir: `/h/state/${slug}`,
  meta: null,
  preserved: false,
  stopping: false,
  ownerAlive: false,
  gatePid: null,
  supervisorPid: null,
  socketExists: false,
  ...over,
});
const container = (slug: string) => ({ backend: "docker" as const, item: { kind: "container" as const, id: `claude-bottle-${slug}`, detail: `container claude-bottle-${slug} (running)` } });

test("live bottles are untouched; dead ones lose container, processes, socket and state, in that order", () => {
  const plan = composeCleanupPlan({
    states: [
      snap("live-aaaaa", { ownerAlive: true, gatePid: 50, socketExists: true }),
      snap("dead-bbbbb", { gatePid: 60, socketExists: true }),
      snap("sup-ccccc", { supervisorPid: 70, gatePid: 71 }), // detached, supervisor alive: live
    ],
    backendItems: [container("live-aaaaa"), container("dead-bbbbb"), container("sup-ccccc"), container("lost-ddddd")],
    adoptStateless: true,
  });
  expect(plan.items.map((i) => [i.kind, i.slug, i.id])).toEqual([
    ["container", "dead-bbbbb", "claude-bottle-dead-bbbbb"],
    ["container", "lost-ddddd", "claude-bottle-lost-ddddd"],
    ["process", "dead-bbbbb", "60"],
    ["socket", "dead-bbbbb", "/h/state/dead-bbbbb/sock/gate.sock"],
    ["state", "dead-bbbbb", "/h/state/dead-bbbbb"],
  ]);
  expect(plan.kept.map((k) => k.slug)).toEqual(["live-aaaaa", "sup-ccccc"]);
});

test("a preserved state is kept (resume material), its leftovers are not", () => {
  const plan = composeCleanupPlan({
    states: [snap("p-aaaaa", { preserved: true, gatePid: 9, socketExists: true })],
    backendItems: [container("p-aaaaa")],
    adoptStateless: true,
  });
  expect(plan.items.map((i) => i.kind)).toEqual(["container", "process", "socket"]);
  expect(plan.kept).toEqual([{ slug: "p-aaaaa", why: expect.stringContaining("preserved") }]);
  expect(formatCleanupPlan(plan)).toContain("keep      p-aaaaa: preserved");
});

test("a bottle being stopped (down in progress) is not live; an owner whose slug is a prefix of another does not protect it", () => {
  const plan = composeCleanupPlan({
    states: [snap("a-aaaaa", { ownerAlive: true, stopping: true }), snap("a-aaaaa-bbbbb", { ownerAlive: true })],
    backendItems: [container("a-aaaaa")],
    adoptStateless: true,
  });
  expect(plan.items.map((i) => [i.kind, i.slug])).toEqual([
    ["container", "a-aaaaa"],
    ["state", "a-aaaaa"],
  ]);
});

test("nothing found: an empty plan", () => {
  const plan = composeCleanupPlan({ states: [], backendItems: [], adoptStateless: true });
  expect(plan.items).toEqual([]);
  expect(formatCleanupPlan(plan)).toBe("nothing to clean up\n");
});

test("a bottle with no state in this home is someone else's unless adopted", () => {
  const states = [snap("mine-aaaaa")];
  const backendItems = [container("mine-aaaaa"), container("other-bbbbb")];
  const scoped = composeCleanupPlan({ states, backendItems, adoptStateless: false });
  expect(scoped.items.map((i) => i.id)).toEqual(["claude-bottle-mine-aaaaa", "/h/state/mine-aaaaa"]);
  expect(scoped.kept[0]?.why).toContain("cleanup --all");
  const all = composeCleanupPlan({ states, backendItems, adoptStateless: true });
  expect(all.items.map((i) => i.id)).toContain("claude-bottle-other-bbbbb");
});

test("a detached bottle whose container was removed outside claude-bottle: supervisor, gate and state go", () => {
  const meta = {
    version: 1 as const,
    slug: "orph-aaaaa",
    agent: "orph",
    bottle: "b",
    backend: "docker" as const,
    cwd: "/w",
    workspace: { mode: "none" as const, path: null },
    started_at: "2026-11-23T00:00:00Z",
    status: "running" as const,
    detached: true,
    owner_pid: 70,
    exit_code: null,
  };
  const orphan = snap("orph-aaaaa", { meta, ownerAlive: true, supervisorPid: 70, gatePid: 71, socketExists: true });
  const gone = composeCleanupPlan({ states: [orphan], backendItems: [], adoptStateless: false, listed: ["docker"] });
  expect(gone.items.map((i) => [i.kind, i.id])).toEqual([
    ["process", "70"],
    ["process", "71"],
    ["socket", "/h/state/orph-aaaaa/sock/gate.sock"],
    ["state", "/h/state/orph-aaaaa"],
  ]);
  // Its container is there: live. Docker not reachable: nothing is known, so live too.
  expect(composeCleanupPlan({ states: [orphan], backendItems: [container("orph-aaaaa")], adoptStateless: false, listed: ["docker"] }).items).toEqual([]);
  expect(composeCleanupPlan({ states: [orphan], backendItems: [], adoptStateless: false, listed: [] }).items).toEqual([]);
  // A launch in progress (status starting) has no container yet and is live.
  expect(composeCleanupPlan({ states: [{ ...orphan, meta: { ...meta, status: "starting" } }], backendItems: [], adoptStateless: false, listed: ["docker"] }).items).toEqual([]);
});
