import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { curl, route, startEnv, type Env } from "./harness.ts";

// A file compressed by a standard tool and POSTed as it is (`zstd f &&
// curl --data-binary @f.zst`), no Content-Encoding saying so: the
// receiver stores the bytes, and anyone with the same tool reads the
// secret back. gzip, zlib and zip are inflated by their magic bytes; the
// other common compressors must not be a way around DLP: zstd is decoded
// and scanned like gzip, and what the gate cannot decode (xz, bzip2, 7z)
// is refused, like an unknown Content-Encoding. Real tools make the files,
// real curl sends them, the recording upstream shows what arrived.

const SECRET = "bottle-secret-Vq7ZxP2mK9wL4nR8";

let env: Env;
let dir: string;
beforeAll(async () => {
  env = await startEnv((up) => [route("up.test", { ports: [up.httpPort] })], {
    secrets: { credentials: {}, secrets: [{ name: "MY_SECRET", value: SECRET }] },
  });
  dir = mkdtempSync(join(tmpdir(), "cb-magic-"));
  // Long enough that every tool compresses its literals (a tiny file is
  // stored as it is, and then the plain scan sees the secret anyway).
  const notes = Array.from({ length: 300 }, (_, i) => `step ${i}: deploy the service and check the logs\n`).join("");
  writeFileSync(join(dir, "dirty.txt"), notes + `key=${SECRET}\n` + notes);
  writeFileSync(join(dir, "clean.txt"), notes);
  for (const name of ["dirty", "clean"]) {
    for (const tool of [["zstd", "-q", "-f"], ["xz", "-k", "-f"], ["bzip2", "-k", "-f"]]) {
      const p = Bun.spawnSync([...tool, join(dir, `${name}.txt`)]);
      if (p.exitCode !== 0) throw new Error(`${tool[0]} failed: ${p.stderr.toString()}`);
    }
  }
  // The secret is not in the compressed files' bytes as it is.
  for (const ext of ["zst", "xz", "bz2"]) {
    expect(Buffer.from(await Bun.file(join(dir, `dirty.txt.${ext}`)).arrayBuffer()).includes(SECRET)).toBe(false);
  }
});
afterAll(async () => {
  await env.close();
  rmSync(dir, { recursive: true, force: true });
});

const send = (file: string) =>
  curl(env, [`http://up.test:${env.up.httpPort}/store`, "-H", "Content-Type: application/octet-stream", "--data-binary", `@${join(dir, file)}`]);

describe("gate: a body compressed by a standard tool, no Content-Encoding", () => {
  test("zstd with the secret: decoded, refused, the upstream sees nothing", async () => {
    const before = env.up.seen.length;
    const r = await send("dirty.txt.zst");
    expect(r.status).toBe(403);
    expect(r.body).toStartWith("blocked: dlp: secret:MY_SECRET in body");
    expect(env.up.seen.length).toBe(before);
  });

  test("zstd without it: goes through whole", async () => {
    const before = env.up.seen.length;
    const r = await send("clean.txt.zst");
    expect(r.status).toBe(200);
    expect(env.up.seen.length).toBe(before + 1);
    expect(env.up.seen.at(-1)!.bodyLength).toBe(Bun.file(join(dir, "clean.txt.zst")).size);
  });

  for (const ext of ["xz", "bz2"]) {
    test(`${ext}: the gate cannot read it, so it does not leave (clean or not)`, async () => {
      for (const name of ["dirty", "clean"]) {
        const before = env.up.seen.length;
        const r = await send(`${name}.txt.${ext}`);
        expect(r.status).toBe(403);
        expect(r.body).toStartWith("blocked: dlp: unsupported-compressed-body in body");
        expect(env.up.seen.length).toBe(before);
      }
    });
  }

  test("in a multipart form too", async () => {
    const before = env.up.seen.length;
    const r = await curl(env, [`http://up.test:${env.up.httpPort}/upload`, "-F", `f=@${join(dir, "dirty.txt.zst")}`]);
    expect(r.status).toBe(403);
    expect(env.up.seen.length).toBe(before);
  });
});
