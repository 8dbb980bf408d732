import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeWorld } from "./helpers.ts";

// scripts/verify-smolvm.sh is meant for a host with a real smolvm; running
// it against the fake keeps it honest (every check must be able to pass,
// and it must clean up after itself).

const world = makeWorld();
afterAll(() => world.cleanup());

test("verify-smolvm.sh passes against the fake and leaves no machine behind", () => {
  const archive = join(world.root, "agent.tar");
  writeFileSync(archive, "fake archive");
  const r = Bun.spawnSync(["bash", resolve(import.meta.dir, "../../../scripts/verify-smolvm.sh"), archive], { env: world.env, stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  expect(out).toContain("# 14 passed, 0 failed");
  expect(out).not.toContain("FAIL");
  expect(r.exitCode).toBe(0);
  const ls = Bun.spawnSync([resolve(import.meta.dir, "../../fixtures/fake-smolvm/smolvm"), "machine", "ls", "--json"], { env: world.env });
  expect(ls.stdout.toString().trim()).toBe("[]");
}, 60_000);
