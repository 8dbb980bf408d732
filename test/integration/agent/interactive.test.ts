// `up` in a real terminal (tmux) with the REAL pinned Claude Code, talking
// through the gate to the fake Messages API: it lands at Claude Code's input
// prompt with no first-run screen, typed text reaches the model, leaving ends
// the session and removes everything; a crashed agent points to `logs` and
// `resume`, and `resume` lands at the prompt too; Ctrl-C during the launch
// exits 130 with no docker error and leaves nothing behind. Every assertion
// is on what the screen shows, plus the host side (fake API, state, docker).
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeAnthropic, toolResultsOf, toolUseId, userText, type FakeAnthropic } from "../../fixtures/fake-anthropic/server.ts";
import { dockerTest } from "../../helpers/docker.ts";
import { realAgentCliEnv } from "../../helpers/real-agent.ts";
import { multiSanCert } from "../gate/harness.ts";

const ROOT = join(import.meta.dir, "..", "..", "..");
const UP = join(ROOT, "test", "fixtures", "up-with-upstream.ts");
const CLI = join(ROOT, "src", "cli.ts");
const REAL_KEY = "sk-ant-api03-" + "TtyKeyForTheTmuxTest0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678-BBBBBB";
const API_IP = "127.0.0.7";
// What Claude Code's first-run and consent screens say (2.1.330, seen on a
// real terminal before the bottle's config skipped them).
const ONBOARDING = [
  "Choose the text style",
  "Detected a custom API key",
  "Security notes",
  "Do you trust the files in this folder",
  "trust this folder",
  "Bypass Permissions mode",
  "Unable to connect to Anthropic services",
  "Select login method",
];

const hasTmux = Bun.which("tmux") !== null;
const socket = `cb-tty-${process.pid}`;
let home = "";
let work = "";
let api: FakeAnthropic;
let script = "";

function tmux(...args: string[]): string {
  const r = Bun.spawnSync(["tmux", "-L", socket, ...args], { stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString();
}

// Everything the screen showed since `start`, capture by capture.
let screens: string[] = [];
let session = "t0";
const screen = () => tmux("capture-pane", "-p", "-t", session, "-S", "-200");

async function waitFor(what: RegExp | string, ms: number): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const s = screen();
    screens.push(s);
    if (typeof what === "string" ? s.includes(what) : what.test(s)) return s;
    if (Date.now() - t0 > ms) throw new Error(`not on screen after ${ms} ms: ${what}\n--- screen ---\n${s}`);
    await Bun.sleep(250);
  }
}

// A fresh session (window) per run; the earlier ones stay until the end.
function start(args: string): void {
  screens = [];
  session = `t${Number(session.slice(1)) + 1}`;
  tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "45", `bash ${script} ${args}; echo EXIT=$?; sleep 600`);
}

const type = (text: string) => tmux("send-keys", "-t", session, "-l", text);
const key = (k: string) => tmux("send-keys", "-t", session, k);

function slugs(): string[] {
  const d = join(home, "state");
  return existsSync(d) ? readdirSync(d) : [];
}

const containers = () =>
  Bun.spawnSync(["docker", "ps", "-a", "--filter", "label=claude-bottle", "--format", "{{.Names}}"], { stdout: "pipe" })
    .stdout.toString()
    .split("\n")
    .filter((n) => n.startsWith("claude-bottle-tty-"));

function noOnboarding(): void {
  const all = screens.join("\n");
  for (const m of ONBOARDING) expect(all.includes(m) ? m : null).toBeNull();
}

// At Claude Code's input prompt, in bypass-permissions mode.
const AT_PROMPT = /bypass permissions on[\s\S]*$/;

beforeAll(async () => {
  if (!hasTmux) return;
  home = mkdtempSync(join(tmpdir(), "cb-tty-"));
  work = mkdtempSync(join(tmpdir(), "cb-tty-work-"));
  const cert = await multiSanCert([], "fake-anthropic-tty", [API_IP]);
  writeFileSync(join(home, "upstream-ca.pem"), cert.caPem);
  api = startFakeAnthropic({
    hostname: API_IP,
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    script: (req) => {
      if (!req.tools?.some((t) => t.name === "Bash")) return null;
      const text = userText(req);
      // An allowed host whose name does not resolve: the tool result (what
      // curl printed) goes back into the answer, onto the screen.
      if (text.includes("TYPED-unreachable")) {
        const results = toolResultsOf(req);
        if (results.length === 0) return [{ type: "tool_use", id: toolUseId(), name: "Bash", input: { command: "curl -sS -m 20 https://nowhere.invalid/x; echo", description: "fetch" } }];
        return [{ type: "text", text: `CURL-SAID: ${results[0]!.trim().replace(/\s+/g, " ")}` }];
      }
      const m = /TYPED-(\w+)/.exec(text);
      return [{ type: "text", text: m ? `ANSWER-FOR-${m[1]}` : "no marker" }];
    },
  });
  mkdirSync(join(home, "bottles"), { recursive: true });
  mkdirSync(join(home, "agents"), { recursive: true });
  writeFileSync(
    join(home, "bottles", "tty.md"),
    `---\nextends: claude\nenv:\n  ANTHROPIC_BASE_URL: "https://${API_IP}:${api.port}"\negress:\n  - host: "${API_IP}"\n    ports: [${api.port}]\n    allow_private: true\n    dlp: off\n    auth: {header: x-api-key, scheme: "", token_ref: ANTHROPIC_API_KEY}\n  - host: nowhere.invalid\n---\n`,
  );
  writeFileSync(join(home, "agents", "tty.md"), "---\nbottle: tty\nworkspace: none\n---\n");
  // The terminal runs this script: the test's environment, then `up` (or
  // `resume`) with the gate trusting the fake API's CA.
  const env = await realAgentCliEnv(home, { ANTHROPIC_API_KEY: REAL_KEY, TERM: "xterm-256color" });
  script = join(home, "run.sh");
  const q = (v: string) => `'${v.replaceAll("'", "'\\''")}'`;
  writeFileSync(
    script,
    [
      ...Object.entries(env).map(([k, v]) => `export ${k}=${q(v)}`),
      `cd ${q(work)}`,
      `exec ${q(process.execPath)} ${q(UP)} "$1" --ca ${q(join(home, "upstream-ca.pem"))} "\${@:2}"`,
      "",
    ].join("\n"),
  );
}, 300_000);

afterAll(async () => {
  if (!hasTmux) return;
  tmux("kill-server");
  for (const slug of slugs()) Bun.spawnSync([process.execPath, CLI, "down", slug], { env: { ...process.env, CLAUDE_BOTTLE_HOME: home } });
  api?.stop();
  for (const d of [home, work]) if (d) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!hasTmux)("up in a terminal with the real Claude Code", () => {
  dockerTest(
    "straight to the prompt; typed text reaches the model; leaving ends the session and cleans up",
    async () => {
      start("tty");
      await waitFor(AT_PROMPT, 300_000);
      noOnboarding();
      type("say TYPED-first please");
      key("Enter");
      await waitFor("ANSWER-FOR-first", 60_000);
      const sent = api.seen.filter((s) => s.body && userText(s.body).includes("TYPED-first"));
      expect(sent.length).toBeGreaterThan(0);
      for (const s of api.seen) expect(s.apiKey).toBe(REAL_KEY);
      // The image was reused: the first-run text does not say it is built.
      const launchText = screens.join("\n");
      if (launchText.includes("is up to date")) expect(launchText).not.toContain("Building the agent image");

      // An allowed host that does not resolve: the agent sees the gate's 502
      // with the reason, not a block, and ls does not count it as blocked.
      type("now TYPED-unreachable");
      key("Enter");
      const said = await waitFor(/CURL-SAID: [^\n]*/, 90_000);
      expect(said).toContain("cannot resolve nowhere.invalid");
      expect(said).not.toMatch(/CURL-SAID:[^\n]*blocked/);
      const ls = Bun.spawnSync([process.execPath, CLI, "ls", "--json"], { env: { ...process.env, CLAUDE_BOTTLE_HOME: home }, stdout: "pipe" });
      const rows = JSON.parse(ls.stdout.toString()) as { slug: string; blocked: number; allowed: number }[];
      expect(rows.length).toBe(1);
      const logs = Bun.spawnSync([process.execPath, CLI, "logs", rows[0]!.slug, "--json"], { env: { ...process.env, CLAUDE_BOTTLE_HOME: home }, stdout: "pipe" });
      const lines = logs.stdout.toString().trim().split("\n").map((l) => JSON.parse(l) as { host: string; decision: string; status: number | null; layer: string });
      const nowhere = lines.filter((l) => l.host === "nowhere.invalid" && l.decision === "deny");
      expect(nowhere.length).toBe(1);
      expect(nowhere[0]).toMatchObject({ status: 502, layer: "gate" });
      // Blocked in ls: the refusals by a rule (Claude Code's own attempts at
      // hosts the bottle does not allow), not the 502s.
      expect(rows[0]!.blocked).toBe(lines.filter((l) => l.decision === "deny" && l.layer !== "supervise" && (l.status ?? 0) < 500).length);
      expect(rows[0]!.allowed).toBeGreaterThan(0);

      type("/exit");
      await Bun.sleep(500);
      key("Enter");
      const end = await waitFor(/EXIT=\d+/, 60_000);
      expect(end).toContain("EXIT=0");
      // Claude Code's own resume line is explained by ours.
      expect(end).toContain("Resume this session with");
      expect(end).toContain("a 'claude --resume' line from Claude Code was for inside the bottle");
      expect(slugs()).toEqual([]);
      expect(containers()).toEqual([]);
    },
    420_000,
  );

  dockerTest(
    "an agent that dies points to logs and resume; resume lands at the prompt again",
    async () => {
      start("tty");
      await waitFor(AT_PROMPT, 120_000);
      const slug = slugs()[0]!;
      // The agent crashes (from outside, as an OOM kill would).
      Bun.spawnSync(["docker", "exec", `claude-bottle-${slug}`, "pkill", "-KILL", "-x", "claude"]);
      const end = await waitFor(/EXIT=\d+/, 60_000);
      expect(end).toMatch(/EXIT=(?!0)\d+/);
      expect(end).toContain(`claude-bottle logs ${slug}`);
      expect(end).toContain(`claude-bottle resume ${slug}`);
      expect(slugs()).toEqual([slug]);

      start(`${slug} --resume`);
      await waitFor(AT_PROMPT, 120_000);
      noOnboarding();
      type("and TYPED-again");
      key("Enter");
      await waitFor("ANSWER-FOR-again", 60_000);
      type("/exit");
      await Bun.sleep(500);
      key("Enter");
      expect(await waitFor(/EXIT=\d+/, 60_000)).toContain("EXIT=0");
      expect(slugs()).toEqual([]);
      expect(containers()).toEqual([]);
    },
    420_000,
  );

  dockerTest(
    "Ctrl-C at the prompt before anything was asked: the session ends, nothing to resume",
    async () => {
      start("tty");
      await waitFor(AT_PROMPT, 120_000);
      noOnboarding();
      await Bun.sleep(1000);
      key("C-c");
      await Bun.sleep(300);
      key("C-c");
      const end = await waitFor(/EXIT=\d+/, 60_000);
      expect(end).toContain("EXIT=0");
      expect(end).not.toContain("claude-bottle resume");
      expect(slugs()).toEqual([]);
      expect(containers()).toEqual([]);
    },
    300_000,
  );

  dockerTest(
    "Ctrl-C during the launch: exit 130, no docker error, nothing left to resume",
    async () => {
      start("tty");
      await waitFor(/starting (the )?bottle|starting container/, 120_000);
      key("C-c");
      const end = await waitFor(/EXIT=\d+/, 60_000);
      expect(end).toContain("EXIT=130");
      expect(end.toLowerCase()).not.toMatch(/docker (could not|failed|error)|error response from daemon/);
      expect(slugs()).toEqual([]);
      expect(containers()).toEqual([]);
    },
    300_000,
  );
});
