import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, ensureBuilt, runBin } from "./binary.ts";

// Colour through styleText: on a terminal unless NO_COLOR, never into a
// pipe unless FORCE_COLOR. Checked on `logs` (DENY in red) through the
// compiled binary, on a real pseudo-terminal (util-linux `script`) and a pipe.

const tmp = mkdtempSync(join(tmpdir(), "cb-cli-colour-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => ensureBuilt());

const home = join(tmp, "home");
const slug = "dev-c0l0r";
const env = { HOME: tmp, CLAUDE_BOTTLE_HOME: home };
const SGR = /\x1b\[[0-9;]*m/;
const hasScript = process.platform === "linux" && Bun.which("script") !== null;

beforeAll(() => {
  const dir = join(home, "state", slug);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "policy.json"), JSON.stringify({ version: 1, slug, routes: [], git: [], supervise: false, placeholders: {} }));
  const rec = (decision: string, host: string) =>
    JSON.stringify({ time: "2026-01-01T00:00:00.000Z", bottle: slug, method: "GET", host, port: 443, path: "/", decision, reason: decision === "deny" ? "host not in allowlist" : "", layer: "policy", status: decision === "deny" ? 403 : 200, bytes_out: 0, bytes_in: 0 });
  writeFileSync(join(dir, "audit.jsonl"), [rec("deny", "evil.test"), rec("allow", "ok.test")].join("\n") + "\n");
});

// The binary on a pseudo-terminal: stdout is a tty.
async function onTty(args: string[], extraEnv: Record<string, string>): Promise<string> {
  const cmd = [BIN, ...args].map((a) => `'${a}'`).join(" ");
  const p = Bun.spawn(["script", "-qec", cmd, "/dev/null"], { env: { PATH: process.env.PATH!, TERM: "xterm", ...env, ...extraEnv }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return out;
}

test("into a pipe: plain; FORCE_COLOR=1: DENY in red", async () => {
  const plain = await runBin(["logs", slug], { cwd: tmp, env });
  expect(plain.code).toBe(0);
  expect(plain.stdout).toContain("DENY");
  expect(plain.stdout).not.toMatch(SGR);
  const forced = await runBin(["logs", slug], { cwd: tmp, env: { ...env, FORCE_COLOR: "1" } });
  expect(forced.stdout).toContain("\x1b[31m\x1b[1mDENY\x1b[22m\x1b[39m");
  // The JSON lines are data: never coloured.
  const json = await runBin(["logs", slug, "--json"], { cwd: tmp, env: { ...env, FORCE_COLOR: "1" } });
  expect(json.stdout).not.toMatch(SGR);
});

test.if(hasScript)("on a terminal: coloured; NO_COLOR=1: no escape codes at all", async () => {
  const tty = await onTty(["logs", slug], {});
  expect(tty).toContain("\x1b[31m\x1b[1mDENY");
  const noColor = await onTty(["logs", slug], { NO_COLOR: "1" });
  expect(noColor).toContain("DENY");
  expect(noColor).not.toContain("\x1b");
});
