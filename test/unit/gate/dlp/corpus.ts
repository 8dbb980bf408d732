// Clean traffic for the DLP false-positive tests and the benchmark: the
// kinds of bodies an agent sends all day, none of which may be blocked.
// Deterministic (seeded PRNG), so a failure reproduces.

import { prng } from "../../../helpers/prng.ts";
export { prng };

export function randomBytes(n: number, seed: number): Uint8Array {
  const r = prng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
export function randomToken(n: number, seed: number, alphabet = ALNUM): string {
  const r = prng(seed);
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

export const PROSE = `The gate is the only way out of a bottle. Everything the agent sends goes
through it, and it decides, request by request, whether the host, the method and
the path are allowed. When it says no, the agent sees a 403 with a short reason,
and the audit log records the decision. That is the whole idea: one door, and a
doorkeeper who writes everything down.

Most of the time the agent is doing ordinary work. It reads documentation, asks
the model a question, downloads a package, pushes a branch. None of that should
ever be blocked. A detector that fires on twelve ordinary English words because
they happen to be in a seed-phrase word list is worse than no detector at all:
people turn it off, and then it protects nothing. So the rules here are narrow.
They look for the shapes real credentials have -- fixed prefixes, fixed lengths,
random bodies -- and for the bottle's own secrets, which the gate knows exactly.

Could you review this pull request? I've updated the retry logic so that a
transient 529 from the API backs off exponentially, capped at thirty seconds,
and I added tests for the jitter. Also: the task-runner config now lives in
tsconfig.build.json; risk-free refactor, no behaviour change. Let me know if the
naming is okay -- "backoffMs" vs "retryDelayMs" -- I went back and forth.

abandon ability able about above absent absorb abstract absurd abuse access
accident account accuse achieve acid acoustic acquire across act action actor
actress actual adapt add addict address adjust admit adult advance advice zoo
`;

export const CODE = `import { createHash } from "node:crypto";
import type { Request, Response } from "express";

// Retry with exponential backoff and full jitter.
export async function withRetry<T>(fn: () => Promise<T>, opts = { retries: 5, baseMs: 250, capMs: 30_000 }): Promise<T> {
  let attempt = 0;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (++attempt > opts.retries || !isRetryable(err)) throw err;
      const delay = Math.random() * Math.min(opts.capMs, opts.baseMs * 2 ** attempt);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function isRetryable(err: unknown): boolean {
  const status = (err as { status?: number }).status ?? 0;
  return status === 429 || status === 529 || status >= 500;
}

export function etag(body: string): string {
  return '"' + createHash("sha256").update(body).digest("base64url").slice(0, 27) + '"';
}

const PEM_HEADER = "-----BEGIN PRIVATE KEY-----";
const PEM_FOOTER = "-----END PRIVATE KEY-----";
export function isPem(text: string): boolean {
  return text.startsWith(PEM_HEADER) && text.trimEnd().endsWith(PEM_FOOTER);
}

// Tokens look like "ghp_..." or "sk-ant-..."; never log them.
const TOKEN_PREFIXES = ["ghp_", "gho_", "github_pat_", "sk-ant-", "sk-", "xoxb-", "AKIA", "AIza", "glpat-", "npm_"];
export function redact(s: string): string {
  return TOKEN_PREFIXES.reduce((acc, p) => acc.split(p).join(p.slice(0, 2) + "***"), s);
}

export default function handler(req: Request, res: Response): void {
  const msg = { content: req.body?.content ?? "", task: "task-runner", risk: "low-risk-only" };
  const key = process.env.API_KEY; // read at runtime, never hard-coded
  if (!key) res.status(500).json({ error: "set API_KEY (see README, e.g. API_KEY=sk-your-key-here)" });
  res.json({ ok: true, msg, id: "550e8400-e29b-41d4-a716-446655440000", sha: "3f9a1c2b4d5e6f708192a3b4c5d6e7f8091a2b3c" });
}
`;

// A long Claude Messages API request body with code in it, as the agent
// sends it (JSON-escaped newlines and quotes).
export function messagesBody(turns = 40): string {
  const messages: { role: string; content: unknown }[] = [];
  for (let i = 0; i < turns; i++) {
    messages.push({ role: "user", content: [{ type: "text", text: `${PROSE}\n\nHere is the file:\n\`\`\`ts\n${CODE}\`\`\`` }] });
    messages.push({
      role: "assistant",
      content: [
        { type: "text", text: "I'll look at the retry logic first." },
        {
          type: "tool_use",
          id: `toolu_01${randomToken(22, i)}`,
          name: "Bash",
          input: { command: "git diff HEAD~1 -- src/retry.ts && bun test test/retry.test.ts", description: "Show the diff and run tests" },
        },
      ],
    });
    messages.push({
      role: "user",
      content: [{ type: "tool_result", tool_use_id: `toolu_01${randomToken(22, i)}`, content: GIT_DIFF }],
    });
  }
  return JSON.stringify({
    model: "claude-sonnet-4-5-20250929",
    max_tokens: 32000,
    system: [{ type: "text", text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: { type: "ephemeral" } }],
    messages,
    tools: [{ name: "Bash", description: "Executes a bash command", input_schema: { type: "object", properties: { command: { type: "string" } }, required: ["command"] } }],
    metadata: { user_id: `user_${"0123456789abcdef".repeat(4)}_account__session_550e8400-e29b-41d4-a716-446655440000` },
    stream: true,
  });
}

export const GIT_DIFF = `diff --git a/src/retry.ts b/src/retry.ts
index 3f9a1c2..8b7e6d5 100644
--- a/src/retry.ts
+++ b/src/retry.ts
@@ -1,12 +1,18 @@
-import { sleep } from "./util";
+import { setTimeout as sleep } from "node:timers/promises";
 
-export async function withRetry(fn, retries = 3) {
-  for (let i = 0; i < retries; i++) {
+// Retry with exponential backoff and full jitter.
+export async function withRetry<T>(fn: () => Promise<T>, opts = { retries: 5, baseMs: 250 }): Promise<T> {
+  let attempt = 0;
+  for (;;) {
     try {
       return await fn();
-    } catch {
-      await sleep(1000);
+    } catch (err) {
+      if (++attempt > opts.retries) throw err;
+      await sleep(Math.random() * opts.baseMs * 2 ** attempt);
     }
   }
-  throw new Error("retries exhausted");
 }
diff --git a/package-lock.json b/package-lock.json
index 1c2d3e4..5f6a7b8 100644
--- a/package-lock.json
+++ b/package-lock.json
@@ -10,7 +10,7 @@
     "node_modules/undici": {
-      "version": "6.19.8",
-      "resolved": "https://registry.example/undici/-/undici-6.19.8.tgz",
-      "integrity": "sha512-U8uCCl2x9TK3WANvmBavymRzxbfFYG+tAu+fgx3zxQy3qdagQqBLwJVrdyO1TBfUXvfKveMKJZhpvUYoOjM+4g==",
+      "version": "6.21.0",
+      "resolved": "https://registry.example/undici/-/undici-6.21.0.tgz",
+      "integrity": "sha512-BUgJXc752Kou3oOIuU1i+yZZypyZRqNPW0vqoMPl8VaoalSfeR0D8/t4iAS3yirs79SSMTxTag+ZC86uswv+Cw==",
`;

// package-lock.json shape: hundreds of sha512 integrity hashes (random
// base64, the worst case for short-anchor rules) and resolved URLs.
export function packageLock(packages = 400, seed = 7): string {
  const r = prng(seed);
  const entries: Record<string, unknown> = {};
  for (let i = 0; i < packages; i++) {
    const name = `pkg-${Math.floor(r() * 1e6).toString(36)}`;
    const integrity = Buffer.from(randomBytes(64, seed * 1000 + i)).toString("base64");
    entries[`node_modules/${name}`] = {
      version: `${i % 9}.${i % 13}.${i % 7}`,
      resolved: `https://registry.example/${name}/-/${name}-${i % 9}.${i % 13}.${i % 7}.tgz`,
      integrity: `sha512-${integrity}`,
      license: "MIT",
      dependencies: { "left-pad": "^1.3.0" },
    };
  }
  return JSON.stringify({ name: "app", version: "1.0.0", lockfileVersion: 3, requires: true, packages: entries }, null, 2);
}

// Minified JavaScript: short identifiers, no whitespace, long lines.
export function minifiedJs(copies = 30): string {
  const unit =
    '!function(e,t){"object"==typeof exports&&"undefined"!=typeof module?module.exports=t():"function"==typeof define&&define.amd?define(t):(e="undefined"!=typeof globalThis?globalThis:e||self).Lib=t()}(this,function(){"use strict";var e=Object.defineProperty,t=(t,n,r)=>n in t?e(t,n,{enumerable:!0,configurable:!0,writable:!0,value:r}):t[n]=r;function n(e){return e&&e.__esModule&&Object.prototype.hasOwnProperty.call(e,"default")?e.default:e}const r=/[A-Za-z0-9+/=]/g,o="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";class s{constructor(e={}){t(this,"opts",e),this.task=e.task||"task-runner",this.msg={sk:e.sk,dapi:"dapi-client",hf:e.hf}}encode(e){let t="";for(let n=0;n<e.length;n+=3){const r=e[n]<<16|e[n+1]<<8|e[n+2];t+=o[r>>18&63]+o[r>>12&63]+o[r>>6&63]+o[63&r]}return t}}return s});';
  return Array.from({ length: copies }, (_, i) => unit.replace(/Lib/g, `Lib${i}`)).join("\n");
}

// A data: URL / Messages API image block: a large base64 payload of random
// (compressed-image-like) bytes.
export function base64Image(bytes = 3 * 1024 * 1024, seed = 42): string {
  const data = Buffer.from(randomBytes(bytes, seed)).toString("base64");
  return JSON.stringify({
    role: "user",
    content: [
      { type: "image", source: { type: "base64", media_type: "image/png", data } },
      { type: "text", text: "What does this screenshot show? Here is the same thing as a data URL too." },
      { type: "text", text: `<img src="data:image/png;base64,${data.slice(0, 200_000)}">` },
    ],
  });
}

export function cleanCorpus(): { name: string; body: string }[] {
  return [
    { name: "English prose", body: PROSE.repeat(50) },
    { name: "TypeScript code", body: CODE.repeat(50) },
    { name: "Claude Messages API body with code", body: messagesBody() },
    { name: "package-lock.json", body: packageLock() },
    { name: "minified JS", body: minifiedJs() },
    { name: "git diff", body: GIT_DIFF.repeat(50) },
    { name: "base64 image", body: base64Image() },
  ];
}
