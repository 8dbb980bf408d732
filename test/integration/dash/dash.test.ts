// The dashboard in a real terminal (tmux on a private server socket): it
// shows a pending request that a real supervise tool call is blocked on,
// and answers it from the keyboard; the terminal is restored on q and on
// SIGTERM.
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSuperviseVhost } from "../../../src/requests/vhost.ts";
import { writeMetadata } from "../../../src/state/metadata.ts";
import { CLI, callTool, cli, makeHome, readPolicyJson, waitForPending, type Home } from "../supervise/fixture.ts";

let h: Home | null = null;
let sock: string | null = null;

function tmux(...args: string[]): string {
  const r = Bun.spawnSync(["tmux", "-S", sock!, ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const screen = () => tmux("capture-pane", "-p");

async function waitScreen(pred: (s: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let s = "";
  while (Date.now() < until) {
    s = screen();
    if (pred(s)) return s;
    await Bun.sleep(100);
  }
  throw new Error(`screen never showed ${what}; last screen:\n${s}`);
}

// The dashboard inside a shell that reports how it ended and whether the
// tty is back in canonical (cooked) mode.
function startDash(home: string, env = "", server = "tmux"): void {
  sock = join(home, `${server}.sock`);
  const sh = `${env} CLAUDE_BOTTLE_HOME='${home}' '${process.execPath}' '${CLI}' dash; echo "DASH-EXITED rc=$?"; stty -a | tr ' ' '\\n' | grep -x -- '-\\{0,1\\}icanon'; sleep 60`;
  tmux("new-session", "-d", "-x", "160", "-y", "40", "sh", "-c", sh);
}

function seedBottle(x: Home): void {
  writeMetadata(x.stateDir, {
    version: 1,
    slug: x.slug,
    agent: "claude",
    bottle: "default",
    backend: "docker",
    cwd: "/tmp",
    workspace: { mode: "none", path: null },
    started_at: new Date(Date.now() - 90_000).toISOString(),
    status: "running",
    detached: true,
    owner_pid: null,
    exit_code: null,
  });
  const deny = { time: new Date().toISOString(), bottle: x.slug, method: "CONNECT", host: "blocked-one.test", port: 443, path: null, decision: "deny", reason: "host not in allowlist: blocked-one.test", layer: "policy", status: 403, bytes_out: 0, bytes_in: 0 };
  writeFileSync(join(x.stateDir, "audit.jsonl"), JSON.stringify(deny) + "\n");
}

afterEach(() => {
  if (sock) Bun.spawnSync(["tmux", "-S", sock, "kill-server"], { stdout: "ignore", stderr: "ignore" });
  sock = null;
  h?.cleanup();
  h = null;
});

describe("claude-bottle dash", () => {
  test("shows bottles, blocked requests and a pending request; n + a approves it with a note; d denies; q restores the terminal", async () => {
    h = makeHome("claude-dsh1a");
    seedBottle(h);
    const v = createSuperviseVhost({ stateDir: h.stateDir, slug: h.slug, home: h.home, timeoutMs: 60_000, pollMs: 100 });
    const first = callTool(v, "request_egress", { host: "docs.example.test", methods: ["GET"], justification: "read the \x1b[2J API docs" });
    const id = await waitForPending(h.home);
    startDash(h.home);

    let s = await waitScreen((x) => x.includes(id), "the pending request");
    expect(s).toContain("egress docs.example.test GET");
    expect(s).toContain("blocked-one.test");
    expect(s).toContain("(policy: host not in allowlist: blocked-one.test)");
    expect(s).toMatch(/claude-dsh1a\s+claude\s+docker\s+running/);
    // The agent's escape sequence is shown defused, not executed.
    expect(s).toContain("read the \uFFFD[2J API docs");

    tmux("send-keys", "n");
    tmux("send-keys", "-l", "ok, read-only");
    tmux("send-keys", "Enter");
    await waitScreen((x) => x.includes("note: ok, read-only"), "the note");
    tmux("send-keys", "a");
    const r = await first;
    expect(r.text).toContain("approved by the operator");
    expect(r.text).toContain("ok, read-only");
    expect(readPolicyJson(h.stateDir).routes.map((x) => x.host)).toEqual(["docs.example.test"]);
    s = await waitScreen((x) => x.includes(`approved ${id}`), "the approval message");
    expect(s).toContain("0 pending requests");

    // A second request appears live (file watch / timer), is selected with
    // the arrow keys and denied.
    const second = callTool(v, "request_egress", { host: "two.test", justification: "second" });
    const third = callTool(v, "report_stuck", { what: "third", justification: "x" });
    await waitScreen((x) => x.includes("egress two.test") && x.includes("stuck: third"), "two new requests");
    const pendingIds = JSON.parse((await cli(h.home, "requests", "--json")).out).map((e: { id: string; kind: string }) => [e.id, e.kind]);
    const twoId = pendingIds.find((p: string[]) => p[1] === "egress")[0];
    const thirdId = pendingIds.find((p: string[]) => p[1] === "stuck")[0];
    // Select the egress one with the arrow keys, then j. Each key is sent
    // only once the screen shows what the previous one did: a frame read
    // while a key is still on its way shows a selection that is about to
    // change, and a key sent on the strength of it lands elsewhere (under
    // load the test once sent d while the selection was moving on, denied
    // the other request and waited out the egress call's 60 s).
    const selectedIn = (x: string) => /> (claude-dsh1a-\w{4})/.exec(x)?.[1];
    const start = selectedIn(await waitScreen((x) => selectedIn(x) !== undefined, "a selection"))!;
    const other = start === twoId ? thirdId : twoId;
    tmux("send-keys", "Down");
    await waitScreen((x) => selectedIn(x) === other, "Down moving the selection");
    tmux("send-keys", "Up");
    await waitScreen((x) => selectedIn(x) === start, "Up moving it back");
    if (start !== twoId) {
      tmux("send-keys", "j");
      await waitScreen((x) => selectedIn(x) === twoId, "j selecting the egress request");
    }
    tmux("send-keys", "d");
    expect((await second).text).toContain("denied by the operator");
    await waitScreen((x) => x.includes(`denied ${twoId}`) && x.includes(`> ${thirdId}`), "the deny message");
    tmux("send-keys", "a");
    expect((await third).text).toContain("the operator answered");
    expect(readPolicyJson(h.stateDir).routes.map((x) => x.host)).toEqual(["docs.example.test"]);

    tmux("send-keys", "q");
    s = await waitScreen((x) => /^-?icanon\s*$/m.test(x), "the dashboard to exit and stty to report");
    expect(s).toContain("DASH-EXITED rc=0");
    // Cooked mode is back (raw mode would show -icanon).
    expect(s.split("\n").map((l) => l.trim())).toContain("icanon");
    // Back on the normal screen: the dashboard's frame is gone.
    expect(s).not.toContain("PENDING REQUESTS");
  }, 60_000);

  test("SIGTERM to the dashboard restores the terminal too", async () => {
    h = makeHome("claude-dsh2a");
    startDash(h.home);
    await waitScreen((x) => x.includes("PENDING REQUESTS"), "the dashboard");
    const shPid = Number(tmux("display-message", "-p", "#{pane_pid}").trim());
    const child = Number(readFileSync(`/proc/${shPid}/task/${shPid}/children`, "utf8").trim().split(/\s+/)[0]);
    expect(child).toBeGreaterThan(1);
    process.kill(child, "SIGTERM");
    const s = await waitScreen((x) => /^-?icanon\s*$/m.test(x), "the dashboard to exit and stty to report");
    expect(s.split("\n").map((l) => l.trim())).toContain("icanon");
    expect(s).not.toContain("PENDING REQUESTS");
  }, 30_000);

  test("colour follows NO_COLOR in the terminal too: styled by default, none at all with NO_COLOR=1", async () => {
    h = makeHome("claude-dsh4a");
    // Any SGR that sets an attribute (a plain reset, \x1b[0m or \x1b[m, is no colour).
    const styled = /\x1b\[(?!0?m)[0-9;]*m/;
    const panes: Record<string, string> = {};
    for (const [name, env] of [["default", ""], ["no-color", "NO_COLOR=1"]] as const) {
      // A tmux server of its own for each run (afterEach ends the last one).
      if (sock) Bun.spawnSync(["tmux", "-S", sock, "kill-server"], { stdout: "ignore", stderr: "ignore" });
      startDash(h.home, env, `tmux-${name}`);
      await waitScreen((x) => x.includes("PENDING REQUESTS"), "the dashboard");
      panes[name] = tmux("capture-pane", "-p", "-e");
    }
    expect(panes.default).toMatch(styled);
    expect(panes["no-color"]).toContain("PENDING REQUESTS");
    expect(panes["no-color"]).not.toMatch(styled);
  }, 30_000);

  test("--once prints a plain frame; without a terminal dash refuses with a pointer", async () => {
    h = makeHome("claude-dsh3a");
    seedBottle(h);
    const once = await cli(h.home, "dash", "--once");
    expect(once.code).toBe(0);
    expect(once.out).toContain("PENDING REQUESTS");
    expect(once.out).toContain("blocked-one.test");
    expect(once.out).not.toContain("\x1b");
    const no = await cli(h.home, "dash");
    expect(no.code).not.toBe(0);
    expect(no.err).toContain("dash needs a terminal");
  });
});
