import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { policyOf, route } from "./harness.ts";
import { startGateProcess, type GateProcess } from "./process.ts";

// `allow` or `deny` may send SIGHUP the moment gate.pid names the gate.
// SIGHUP's default action ends a process: a gate that could be signalled
// before it handles SIGHUP would die of an operator's reload (and the
// bottle be cut off until its supervisor restarts it). The real gate
// process, signalled as soon as it says it listens, several times over.

const dirs: string[] = [];
const gates: GateProcess[] = [];
afterAll(async () => {
  for (const g of gates) await g.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("a SIGHUP as soon as the gate listens reloads it, never ends it", async () => {
  for (let i = 0; i < 5; i++) {
    const dir = mkdtempSync(join(tmpdir(), "cb-gate-early-"));
    dirs.push(dir);
    const policy = { ...policyOf([route("a.test")]), slug: "early-abcde" };
    const gate = await startGateProcess(join(dir, "state"), policy, { credentials: {}, secrets: [] });
    gates.push(gate);
    gate.proc.kill("SIGHUP");
    await Bun.sleep(300);
    expect(gate.proc.exitCode).toBeNull();
    expect(gate.proc.signalCode).toBeNull();
    await gate.reload({ ...policy, routes: [route("b.test")] });
  }
}, 60_000);
