import { expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cachedArchivePath, classifyImage } from "../../../../src/backends/smolmachines/image.ts";

test("classifyImage treats as a path exactly what smolvm's image_source::classify does", () => {
  const dir = mkdtempSync(join(tmpdir(), "cb-img-"));
  try {
    mkdirSync(join(dir, "rootfs"));
    expect(classifyImage("./rootfs", dir)).toEqual({ kind: "rootfs", path: join(dir, "rootfs") });
    expect(classifyImage("agent.tar", dir)).toEqual({ kind: "archive", path: join(dir, "agent.tar") });
    expect(classifyImage("agent.tar.gz", dir).kind).toBe("archive");
    expect(classifyImage("x.tgz", dir).kind).toBe("archive");
    expect(classifyImage("/abs/missing", dir)).toEqual({ kind: "archive", path: "/abs/missing" });
    expect(classifyImage("../up.tar", dir).kind).toBe("archive");
    // Bare names are image references, even if a same-named file exists.
    expect(classifyImage("claude-bottle/agent:1", dir)).toEqual({ kind: "docker", ref: "claude-bottle/agent:1" });
    expect(classifyImage("rootfs", dir)).toEqual({ kind: "docker", ref: "rootfs" });
    expect(classifyImage("ghcr.io/o/r@sha256:abc", dir).kind).toBe("docker");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("cache files are keyed by the docker image id", () => {
  const id = `sha256:${"a1".repeat(32)}`;
  expect(cachedArchivePath("/h", id)).toBe(`/h/cache/smolvm-images/${"a1".repeat(32)}.tar`);
  expect(() => cachedArchivePath("/h", "sha256:../../etc")).toThrow();
});
