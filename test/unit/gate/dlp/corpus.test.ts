import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { Glob } from "bun";
import { compileDlp, type Dlp, type DlpFinding } from "../../../../src/gate/dlp/index.ts";
import { cleanCorpus, randomToken } from "./corpus.ts";

// No false positives on ordinary traffic: every body here must pass clean,
// with realistic secrets configured (random values, as real ones are).

const dlp = compileDlp({
  secrets: [
    { name: "DB_PASSWORD", value: randomToken(24, 1) },
    { name: "STRIPE_KEY", value: "sk_" + "live_" + randomToken(24, 2) },
    { name: "SHORT", value: "abc" },
  ],
  placeholders: [
    { name: "CLAUDE_CODE_OAUTH_TOKEN", value: "sk-ant-" + "oat01-" + randomToken(95, 3) },
    { name: "GITHUB_TOKEN", value: "gh" + "p_" + randomToken(36, 4) },
  ],
});

function scanBody(d: Dlp, body: Uint8Array, chunk: number): DlpFinding | null {
  const s = d.bodyScanner();
  for (let i = 0; i < body.length; i += chunk) {
    const f = s.push(body.subarray(i, i + chunk));
    if (f) return f;
  }
  return s.end();
}

async function scanEncoded(d: Dlp, body: Uint8Array, chunk: number, encoding: string): Promise<DlpFinding | null> {
  const s = d.encodedBodyScanner(encoding);
  for (let i = 0; i < body.length; i += chunk) {
    const f = await s.push(body.subarray(i, i + chunk));
    if (f) return f;
  }
  return s.end();
}

describe("clean corpus passes", () => {
  for (const { name, body } of cleanCorpus()) {
    const bytes = new TextEncoder().encode(body);
    test(`${name} (${bytes.length} bytes) in 64 KiB chunks`, () => {
      expect(scanBody(dlp, bytes, 65536)).toBeNull();
    });
    test(`${name} in 997-byte chunks`, () => {
      expect(scanBody(dlp, bytes, 997)).toBeNull();
    });
    test(`${name} gzip-compressed`, async () => {
      expect(await scanEncoded(dlp, gzipSync(bytes), 4096, "gzip")).toBeNull();
    });
    test(`${name} as request headers`, () => {
      expect(dlp.scanHeaders([["x-body-sample", body.slice(0, 8000)], ["content-type", "application/json"]])).toBeNull();
    });
  }

  test("the corpus is not trivially clean: the same bodies with a secret appended are caught", () => {
    for (const { body } of cleanCorpus()) {
      const bytes = new TextEncoder().encode(body + " " + randomToken(24, 1));
      expect(scanBody(dlp, bytes, 65536)).toEqual({ rule: "secret:DB_PASSWORD", where: "body" });
    }
  });

  // Real-world text and code: the installed dependencies' sources, type
  // definitions, docs and the lockfile (a few MB, scanned in well under a
  // second). Known test fixtures that are genuine credential *shapes*
  // would show up here with their path.
  test("installed dependency sources, docs and lockfile", async () => {
    const patterns = [
      "node_modules/typescript/lib/lib.dom.d.ts",
      "node_modules/typescript/lib/lib.es5.d.ts",
      "node_modules/bun-types/**/*.{ts,md}",
      "node_modules/zod/**/*.{md,ts}",
      "node_modules/yaml/dist/**/*.js",
      "node_modules/@peculiar/**/*.js",
      "bun.lock",
    ];
    let bytes = 0;
    const found: string[] = [];
    for (const p of patterns) {
      for (const f of new Glob(p).scanSync(".")) {
        const data = await Bun.file(f).bytes();
        bytes += data.length;
        const r = scanBody(dlp, data, 65536);
        if (r) found.push(`${f}: ${r.rule}`);
      }
    }
    expect(bytes).toBeGreaterThan(1_000_000);
    expect(found).toEqual([]);
  });
});
