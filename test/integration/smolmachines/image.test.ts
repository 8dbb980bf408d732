import { afterAll, expect } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureImageArchive } from "../../../src/backends/smolmachines/image.ts";
import { UserError } from "../../../src/errors.ts";
import { dockerTest } from "../../helpers/docker.ts";

// A local docker image becomes a `docker save` archive in the cache, once
// per image id. Uses a tiny image imported from a one-file tarball.

const root = mkdtempSync(join(tmpdir(), "cb-smol-img-"));
const tag = `claude-bottle-test/smol-image:${process.pid}`;
afterAll(() => {
  Bun.spawnSync(["docker", "image", "rm", "-f", tag]);
  rmSync(root, { recursive: true, force: true });
});

dockerTest("docker save into <home>/cache by image id, reused on the next launch", async () => {
  const tar = Bun.spawnSync(["sh", "-c", `cd ${root} && echo hi > f && tar -cf in.tar f && docker import in.tar ${tag}`]);
  expect(tar.exitCode).toBe(0);
  const home = join(root, "home");
  const steps: string[] = [];
  let exports = 0;
  const deps = { home, progress: (s: string) => void steps.push(s), onExport: () => void exports++ };
  const first = await ensureImageArchive(tag, deps);
  expect(exports).toBe(1);
  expect(first.startsWith(join(home, "cache", "smolvm-images"))).toBe(true);
  expect(first).toMatch(/\/[0-9a-f]{64}\.tar$/);
  const id = Bun.spawnSync(["docker", "image", "inspect", "--format", "{{.Id}}", tag]).stdout.toString().trim();
  expect(first).toEndWith(`${id.replace("sha256:", "")}.tar`);
  const list = Bun.spawnSync(["tar", "-tf", first]).stdout.toString();
  expect(list).toContain("manifest.json"); // a real docker save archive
  const mtime = statSync(first).mtimeMs;
  const second = await ensureImageArchive(tag, deps);
  expect(second).toBe(first);
  expect(statSync(second).mtimeMs).toBe(mtime);
  expect(steps.length).toBe(1); // exported once
  expect(exports).toBe(1); // and only the export is announced, not the reuse
  const missing = await ensureImageArchive("claude-bottle-test/does-not-exist:0", { home }).catch((e) => e);
  expect(missing).toBeInstanceOf(UserError);
  expect((missing as Error).message).toContain("not in the local docker image store");
}, 30_000);
