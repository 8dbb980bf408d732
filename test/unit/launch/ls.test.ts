import { expect, test } from "bun:test";
import { formatTable, formatUptime, lsRows, rowStatus } from "../../../src/launch/ls.ts";
import type { StateSnapshot } from "../../../src/launch/inspect.ts";
import type { Metadata } from "../../../src/state/metadata.ts";

const meta = (slug: string, over: Partial<Metadata> = {}): Metadata => ({
  version: 1,
  slug,
  agent: slug.replace(/-[0-9a-z]{5}$/, ""),
  bottle: "default",
  backend: "docker",
  cwd: "/w",
  workspace: { mode: "none", path: null },
  started_at: "2026-01-01T00:00:00.000Z",
  status: "running",
  detached: true,
  owner_pid: 10,
  exit_code: null,
  ...over,
});
const snap = (slug: string, over: Partial<StateSnapshot> = {}): StateSnapshot => ({
  slug,
  stateDir: `/h/state/${slug}`,
  meta: meta(slug),
  preserved: false,
  stopping: false,
  ownerAlive: true,
  gatePid: 100,
  supervisorPid: 101,
  socketExists: true,
  ...over,
});

test("uptime formatting", () => {
  expect(formatUptime(null)).toBe("-");
  expect(formatUptime(5)).toBe("5s");
  expect(formatUptime(65)).toBe("1m05s");
  expect(formatUptime(3 * 3600 + 2 * 60 + 9)).toBe("3h02m");
  expect(formatUptime(50 * 3600)).toBe("2d2h");
});

test("status reflects owner, gate, backend and preserve marker", () => {
  expect(rowStatus(snap("a-aaaaa"), "running")).toBe("running");
  expect(rowStatus(snap("a-aaaaa", { gatePid: null }), "running")).toBe("gate-down");
  expect(rowStatus(snap("a-aaaaa"), "missing")).toBe("orphaned");
  expect(rowStatus(snap("a-aaaaa", { ownerAlive: false, gatePid: null }), undefined)).toBe("orphaned");
  expect(rowStatus(snap("a-aaaaa", { preserved: true, meta: meta("a-aaaaa", { status: "exited", exit_code: 3 }) }), "missing")).toBe("preserved (exit 3)");
  expect(rowStatus(snap("a-aaaaa", { meta: meta("a-aaaaa", { status: "starting" }) }), undefined)).toBe("starting");
  expect(rowStatus(snap("a-aaaaa"), "stopped")).toBe("stopped");
  expect(rowStatus(snap("a-aaaaa", { stopping: true }), "running")).toBe("stopping");
});

test("rows join state with backend listings; a container without state is an orphan row", () => {
  const rows = lsRows({
    states: [snap("web-bbbbb"), snap("api-aaaaa")],
    bottles: [
      { slug: "api-aaaaa", backend: "docker", status: "running", name: "claude-bottle-api-aaaaa" },
      { slug: "zed-zzzzz", backend: "smolmachines", status: "running", name: "claude-bottle-zed-zzzzz" },
    ],
    counts: (d) => (d.endsWith("api-aaaaa") ? { allowed: 12, blocked: 3 } : { allowed: 0, blocked: 0 }),
    now: Date.parse("2026-01-01T01:02:03.000Z"),
  });
  expect(rows.map((r) => [r.slug, r.status, r.uptime_s, r.allowed, r.blocked])).toEqual([
    ["api-aaaaa", "running", 3723, 12, 3],
    ["web-bbbbb", "orphaned", 3723, 0, 0],
    ["zed-zzzzz", "orphaned", null, 0, 0],
  ]);
  const table = formatTable(rows);
  expect(table).toBe(
    [
      "SLUG       AGENT  BACKEND       STATUS    UPTIME  ALLOWED  BLOCKED",
      "api-aaaaa  api    docker        running   1h02m        12        3",
      "web-bbbbb  web    docker        orphaned  1h02m         0        0",
      "zed-zzzzz  zed    smolmachines  orphaned  -             0        0",
      "",
    ].join("\n"),
  );
  expect(formatTable([])).toBe("no bottles\n");
});
