import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderTable } from "../../src/selftest/report.ts";
import { runSelftest } from "../../src/selftest/run.ts";
import { dockerTest, TEST_BASE_IMAGE, testDoors } from "../helpers/docker.ts";

// The acceptance gate of the product: a real docker bottle, attacked from
// inside. Every attack must be blocked by the layer we expect; the report
// is written next to the test output (table + JSON) for people to read.
// Once per door: behind the bridge door (what Docker Desktop, OrbStack and
// colima get) the same attacks, plus the bridge container killed.
for (const door of testDoors()) {
  dockerTest(
    `sandbox escape suite (${door} door): every attack blocked by the expected layer`,
    async () => {
      process.env.CLAUDE_BOTTLE_AGENT_PACKAGE ??= "none";
      const report = await runSelftest({
        backend: "docker",
        door,
        baseImage: process.env.CLAUDE_BOTTLE_BASE_IMAGE ?? TEST_BASE_IMAGE,
        log: (l) => process.stderr.write(l + "\n"),
      });
      const outDir = join(import.meta.dir, "..", "..", ".tmp");
      mkdirSync(outDir, { recursive: true });
      const suffix = door === "unix" ? "" : `-${door}`;
      writeFileSync(join(outDir, `escape-report${suffix}.json`), JSON.stringify(report, null, 2));
      const table = renderTable(report);
      writeFileSync(join(outDir, `escape-report${suffix}.txt`), table + "\n");
      console.log(table);
      expect(report.outcomes.length).toBeGreaterThan(50);
      expect(report.outcomes.filter((o) => !o.pass).map((o) => `${o.id}: ${o.detail}`)).toEqual([]);
      if (door === "bridge") expect(report.outcomes.map((o) => o.id)).toEqual(expect.arrayContaining(["10.bridge-killed", "10.bridge-restarted"]));
    },
    900_000,
  );
}
