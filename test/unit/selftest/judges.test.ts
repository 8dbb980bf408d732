import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { attacks, controls } from "../../../src/selftest/attacks/index.ts";
import { outcomeOf } from "../../../src/selftest/outcome.ts";
import { judgeGateDown } from "../../../src/selftest/judges.ts";
import { judgeAttack } from "../../../src/selftest/script.ts";
import type { Attack, AttackOutcome, Evidence } from "../../../src/selftest/types.ts";
import type { Captured, FixtureFile } from "../../fixtures/selftest/capture.ts";

// The judges, fed with what the real tools printed and the real receivers
// recorded (test/fixtures/selftest/capture.ts made these files):
//   open.json    every attack from a networked container whose door is open:
//                what "got through" looks like, tool by tool;
//   missing.json the same with dig, socat, git, node, getent, gzip, bash removed;
//   bottle.json  a real claude-bottle docker bottle: what "blocked" looks like.
// The tests judge each capture again with today's code.

const dir = join(import.meta.dir, "..", "..", "fixtures", "selftest");
const load = (mode: string) => JSON.parse(readFileSync(join(dir, `${mode}.json`), "utf8")) as FixtureFile;
const REMOVED = ["dig", "socat", "git", "node", "getent", "gzip", "bash"];

function catalogue(f: FixtureFile): Map<string, Attack> {
  return new Map([...controls(f.ctx), ...attacks(f.ctx)].map((a) => [a.id, a]));
}

function judge(f: FixtureFile, c: Captured, evidence: Evidence = c.evidence): AttackOutcome {
  const a = catalogue(f).get(c.id);
  if (!a) throw new Error(`${c.id} is not in the catalogue any more: capture the fixtures again`);
  return outcomeOf(a, judgeAttack(a, evidence, f.ctx), a.category === 0);
}

const open = load("open");
const missing = load("missing");
const bottle = load("bottle");
const byId = (f: FixtureFile, id: string) => {
  const c = f.cases.find((x) => x.id === id);
  if (!c) throw new Error(`no capture for ${id} in ${f.mode}.json`);
  return c;
};
const clone = (e: Evidence): Evidence => structuredClone(e);

describe("captured from an open sandbox: every judge says 'got through'", () => {
  test("no attack passes, and every one with an arrival is judged not blocked", () => {
    let arrived = 0;
    for (const c of open.cases) {
      const o = judge(open, c);
      if (c.id.startsWith("0.")) {
        expect(`${c.id}: ${o.pass}`).toBe(`${c.id}: true`);
        continue;
      }
      expect(`${c.id}: ran ${o.ran}`).toBe(`${c.id}: ran true`);
      expect(`${c.id}: pass ${o.pass}`).toBe(`${c.id}: pass false`);
      if (c.evidence.arrivals.length > 0) {
        arrived++;
        expect(`${c.id}: blocked ${o.blocked}`).toBe(`${c.id}: blocked false`);
      }
    }
    // Nearly every attack reached a receiver through the open door.
    expect(arrived).toBeGreaterThan(50);
  });

  // One per tool and judge, with the tool's real success output.
  const spots: [id: string, tool: RegExp, detail: RegExp][] = [
    ["4.dig-docker0", /;; ANSWER SECTION:/, /dns docker0 \(udp\) received A leak-/],
    ["4.dig-tcp-docker0", /;; ANSWER SECTION:/, /dns docker0 \(tcp\) received/],
    ["6.udp-docker0", /^RC=0$/m, /udp docker0 received leak/],
    ["6.tcp-docker0", /^RC=0$/m, /tcp docker0 received a connection/],
    ["6.devtcp-docker0", /^CONNECTED host service$/m, /tcp docker0 received a connection/],
    ["6.noproxy-curl", /^CURL=0 HTTP=200/m, /tcp \S+ received/],
    ["7.unix-host-socket", /^RC=0$/m, /unix host-socket received a connection/],
    ["5.git-push-test_secret_aws", /\[new branch\]/, /git upstream received refs changed/],
    ["1.https-host", /^CURL=0 HTTP=200/m, /upstream evil\.selftest\.test received GET/],
    ["2.ip-2130706433", /^CURL=0 HTTP=200/m, /tcp host-loopback received/],
    ["2.sni-mismatch", /^STATUS 200/m, /received GET/],
    ["3.body-gzip", /^CURL=0 HTTP=200/m, /upstream allowed\.selftest\.test received POST/],
    ["4.crafted-subdomain", /^CURL=0 HTTP=200/m, /\.wild\.selftest\.test received GET/],
    ["8.smuggle-cl-te", /^STATUS /m, /upstream http \(tcp\) received/],
    ["9.credential-absent", /^FOUND env$/m, /FOUND env/],
    ["9.credential-echo-header", /x-echo-authorization: Bearer stk_/, /the real credential reached the sandbox/],
    ["9.credential-echo-pieces", /"text_delta","text":"/, /the streamed text deltas, joined, are the real credential/],
    ["1.credential-plain-http", /^CURL=0 HTTP=200/m, /upstream allowed\.selftest\.test received GET \/auth/],
    ["4.subdomain-letters", /^CURL=0 HTTP=200/m, /\.wild\.selftest\.test received GET/],
    ["3.body-gzip-undeclared", /^CURL=0 HTTP=200/m, /upstream allowed\.selftest\.test received POST/],
  ];
  for (const [id, tool, detail] of spots) {
    test(`${id}: the real tool's success is judged 'got through'`, () => {
      const c = byId(open, id);
      expect(c.evidence.exec.stdout).toMatch(tool);
      const o = judge(open, c);
      expect(o.ran).toBe(true);
      expect(o.blocked).toBe(false);
      expect(o.detail).toMatch(detail);
    });
  }

  test("dig's answer is far below line 5 (the old attack cut it off there)", () => {
    const lines = byId(open, "4.dig-docker0").evidence.exec.stdout.split("\n");
    expect(lines.findIndex((l) => l.startsWith(";; ANSWER SECTION:"))).toBeGreaterThan(5);
  });

  test("the attacker's own success counts even when no receiver saw it", () => {
    // UDP that the sandbox says it sent (exit 0) is not blocked, whatever arrived.
    const c = byId(open, "6.udp-docker0");
    const o = judge(open, c, { ...clone(c.evidence), arrivals: [] });
    expect(o.blocked).toBe(false);
    const d = byId(open, "4.dig-docker0");
    expect(judge(open, d, { ...clone(d.evidence), arrivals: [] }).blocked).toBe(false);
  });

  test("a sandbox with an interface is never proven sealed, even when nothing arrived", () => {
    // IPv6 has no route from the docker bridge: unreachable, but eth0 exists.
    const c = byId(open, "6.tcp-eth0-v6");
    expect(c.evidence.exec.stdout).toMatch(/Cannot assign requested address|Network is unreachable/);
    expect(c.evidence.arrivals).toEqual([]);
    const o = judge(open, c);
    expect(o.blocked).toBe(false);
    expect(o.detail).toMatch(/network interface: eth0/);
  });
});

describe("captured with tools removed: 'did not run', never 'blocked'", () => {
  test("every attack that needs a removed tool did not run, and says which tool", () => {
    let n = 0;
    for (const c of missing.cases) {
      const a = catalogue(missing).get(c.id)!;
      const gone = a.tools.filter((t) => REMOVED.includes(t));
      if (gone.length === 0) continue;
      n++;
      const o = judge(missing, c);
      expect(`${c.id}: ran ${o.ran} pass ${o.pass}`).toBe(`${c.id}: ran false pass false`);
      expect(o.detail).toStartWith("did not run: missing");
      for (const t of gone) expect(o.detail).toContain(t);
    }
    expect(n).toBeGreaterThan(25);
  });
});

describe("captured from a real bottle: every judge says 'blocked by the expected layer'", () => {
  test("every capture passes", () => {
    for (const c of bottle.cases.filter((x) => !x.id.startsWith("10."))) {
      const o = judge(bottle, c);
      expect(`${c.id}: ${o.pass ? "pass" : o.detail}`).toBe(`${c.id}: pass`);
    }
  });

  test("sealed: the real refusal plus an arrival is 'got through'", () => {
    for (const id of ["6.udp-docker0", "4.dig-docker0", "6.tcp-docker0", "7.unix-host-socket"]) {
      const c = byId(bottle, id);
      const ev = clone(c.evidence);
      ev.arrivals.push({ kind: "udp", receiver: "udp docker0", from: "172.17.0.5", text: "leak", bytes: 4 });
      expect(judge(bottle, c, ev).pass).toBe(false);
    }
  });

  test("sealed: without the ran-marker, or with exit 127, it did not run", () => {
    const c = byId(bottle, "6.tcp-docker0");
    const noMarker = clone(c.evidence);
    noMarker.exec.stdout = noMarker.exec.stdout.replace(/^CB-RAN-\w+$/m, "");
    expect(judge(bottle, c, noMarker).ran).toBe(false);
    const killed = { ...clone(c.evidence), exec: { code: 127, stdout: "", stderr: "sh: 1: socat: not found" } };
    const o = judge(bottle, c, killed);
    expect(o.ran).toBe(false);
    expect(o.pass).toBe(false);
  });

  test("sealed: the real unreachable output with an interface listed fails", () => {
    const c = byId(bottle, "6.tcp-docker0");
    const ev = clone(c.evidence);
    ev.exec.stdout = ev.exec.stdout.replace("--- end ip", "2: eth0    inet 172.17.0.9/16 scope global eth0\n--- end ip");
    expect(judge(bottle, c, ev).pass).toBe(false);
    const noIp = clone(c.evidence);
    noIp.exec.stdout = noIp.exec.stdout.replace(/--- ip -o addr[\s\S]*--- end ip\n/, "");
    expect(judge(bottle, c, noIp).pass).toBe(false);
  });

  test("sealed: a failure that is not 'unreachable' (connection refused) fails", () => {
    const c = byId(bottle, "6.tcp-docker0");
    const ev = clone(c.evidence);
    ev.exec.stdout = ev.exec.stdout.replace(/Network is unreachable/g, "Connection refused");
    expect(judge(bottle, c, ev).pass).toBe(false);
  });

  test("gate: the real refusal without its audit deny line fails; with an arrival fails", () => {
    const c = byId(bottle, "1.https-host");
    expect(judge(bottle, c).pass).toBe(true);
    expect(judge(bottle, c, { ...clone(c.evidence), audit: [] }).pass).toBe(false);
    const ev = clone(c.evidence);
    ev.arrivals.push({ kind: "https", receiver: "upstream https (tcp)", from: "127.0.0.1", text: "(connection)", bytes: 0 });
    expect(judge(bottle, c, ev).pass).toBe(false);
  });

  test("echo in pieces: the real stream passes; the same deltas holding the value, or no dlp line, fail", () => {
    const c = byId(bottle, "9.credential-echo-pieces");
    expect(c.evidence.exec.stdout).toMatch(/"text_delta","text":"/);
    expect(judge(bottle, c).pass).toBe(true);
    const real = bottle.ctx.credential.realValue;
    const half = Math.floor(("Bearer " + real).length / 2);
    const leaked = clone(c.evidence);
    const delta = (t: string) => `data: ${JSON.stringify({ type: "content_block_delta", delta: { type: "text_delta", text: t } })}\n`;
    leaked.exec.stdout = leaked.exec.stdout.replace(/--- body\n[\s\S]*$/, `--- body\n${delta(("Bearer " + real).slice(0, half))}\n${delta(("Bearer " + real).slice(half))}\n`);
    expect(judge(bottle, c, leaked).pass).toBe(false);
    expect(judge(bottle, c, { ...clone(c.evidence), audit: c.evidence.audit.filter((a) => a.layer !== "dlp") }).pass).toBe(false);
  });

  test("git: the real rejected push passes only with the hook's deny line in the audit", () => {
    const c = byId(bottle, "5.git-push-test_secret_aws");
    expect(c.evidence.audit.some((a) => a.layer === "git" && a.decision === "deny")).toBe(true);
    expect(judge(bottle, c).pass).toBe(true);
    const noAudit = { ...clone(c.evidence), audit: c.evidence.audit.filter((a) => a.layer !== "git") };
    expect(judge(bottle, c, noAudit).pass).toBe(false);
    // The deny line never holds the planted value.
    for (const s of bottle.ctx.secrets) expect(JSON.stringify(c.evidence.audit)).not.toContain(s.value);
  });

  test("credential-absent: empty output did not run; a search that proves nothing fails", () => {
    const c = byId(bottle, "9.credential-absent");
    expect(judge(bottle, c).pass).toBe(true);
    expect(judge(bottle, c, { ...clone(c.evidence), exec: { code: 0, stdout: "", stderr: "" } }).ran).toBe(false);
    const ev = clone(c.evidence);
    ev.exec.stdout = ev.exec.stdout.replace(/^SELFCHECK=1$/m, "").replace(/^SCANNED proc=\d+$/m, "SCANNED proc=0");
    expect(judge(bottle, c, ev).pass).toBe(false);
  });

  test("gate down: curl's real failure with the restart held back is fail-closed; anything else is not", () => {
    const killed = byId(bottle, "10.gate-killed");
    expect(killed.outcome.pass).toBe(true);
    expect(byId(bottle, "10.gate-restarted").outcome.pass).toBe(true);
    const v = judgeGateDown(killed.evidence, true);
    expect(v).toMatchObject({ blocked: true, layer: "fail-closed" });
    expect(v.detail).toMatch(/curl: \(\d+\)/);
    // The same failure, but the gate had come back (or the supervisor ran): nothing proven.
    expect(judgeGateDown(killed.evidence, false).blocked).toBe(false);
    // A real success (the open door's control) is not fail-closed, arrival or not.
    const okay = byId(open, "0.control-https").evidence;
    expect(judgeGateDown(okay, true).blocked).toBe(false);
    expect(judgeGateDown({ ...clone(okay), arrivals: [] }, true).blocked).toBe(false);
    // The real failure plus an arrival at a receiver is a leak.
    const ev = clone(killed.evidence);
    ev.arrivals.push({ kind: "https", receiver: "upstream allowed.selftest.test", from: "127.0.0.1", text: "POST /", bytes: 6 });
    expect(judgeGateDown(ev, true).blocked).toBe(false);
  });
});

test("the fixtures hold no planted value and name the tools' versions", () => {
  for (const f of [open, missing, bottle]) {
    expect(f.tools.length).toBeGreaterThan(0);
    expect(existsSync(join(dir, `${f.mode}.json`))).toBe(true);
    const text = readFileSync(join(dir, `${f.mode}.json`), "utf8");
    expect(text).not.toMatch(/AKIA[A-Z2-7]{16}|ghp_[A-Za-z0-9]{36}|sk-ant-api03-/);
  }
});
