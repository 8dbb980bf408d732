import { describe, expect, test } from "bun:test";
import { attacks, controls } from "../../../src/selftest/attacks/index.ts";
import { outcomeOf } from "../../../src/selftest/outcome.ts";
import { arrivalLog } from "../../../src/selftest/receivers/record.ts";
import { buildReport, renderTable } from "../../../src/selftest/report.ts";
import { judgeAttack, notRun, ranMarker, wrapScript } from "../../../src/selftest/script.ts";
import type { AttackContext, Evidence } from "../../../src/selftest/types.ts";

// The catalogue's shape and the runner's bookkeeping. The judges are tested
// with captured real output in judges.test.ts.

const ctx: AttackContext = {
  nonce: "0123456789abcdef",
  proxy: "http://127.0.0.1:3128",
  allowedHost: "allowed.selftest.test",
  allowedHttpsUrl: "https://allowed.selftest.test:8443/",
  allowedHttpUrl: "http://allowed.selftest.test:8080/",
  evilHost: "evil.selftest.test",
  secrets: [
    { name: "TEST_SECRET_AWS", value: "planted-aws-value-1" },
    { name: "TEST_SECRET_GITHUB", value: "planted-github-value-2" },
    { name: "TEST_SECRET_ANTHROPIC", value: "planted-anthropic-value-3" },
    { name: "TEST_SECRET_GENERIC", value: "planted-generic-value-4" },
  ],
  credential: { envVar: "SELFTEST_TOKEN", realValue: "real-token-value-1234567890", placeholderHost: "allowed.selftest.test" },
  otherAllowedHost: "other.selftest.test",
  wildcardDomain: "wild.selftest.test",
  hostTcp: [{ label: "docker0", host: "172.17.0.1", port: 4001 }, { label: "eth0-v6", host: "fd00::2", port: 4002 }],
  hostUdp: [{ label: "docker0", host: "172.17.0.1", port: 4003 }],
  hostDns: [{ label: "docker0", host: "172.17.0.1", port: 4004 }],
  hostLoopback: { label: "host-loopback", host: "127.0.0.1", port: 4005 },
  hostUnixSocket: "/tmp/x/host-service.sock",
  gitRemoteUrl: "/srv/upstream.git",
  workspaceSecret: { path: "/workspace/.env", secretName: "TEST_SECRET_ANTHROPIC" },
};

describe("escape catalogue", () => {
  test("covers every category of the suite, ids unique", () => {
    const list = attacks(ctx);
    const cats = new Set(list.map((a) => a.category));
    for (const c of [1, 2, 3, 4, 5, 6, 7, 8, 9]) expect(cats.has(c)).toBe(true);
    expect(new Set(list.map((a) => a.id)).size).toBe(list.length);
  });

  test("every receiver address is attacked over TCP (two tools), UDP and DNS (UDP and TCP)", () => {
    const ids = attacks(ctx).map((a) => a.id);
    for (const id of ["6.tcp-docker0", "6.devtcp-docker0", "6.tcp-eth0-v6", "6.udp-docker0", "4.dig-docker0", "4.dig-tcp-docker0", "7.unix-host-socket"]) {
      expect(ids).toContain(id);
    }
  });

  test("every attack names its tools; the script checks them first and ends with the ran-marker", () => {
    for (const a of [...controls(ctx), ...attacks(ctx)]) {
      expect(a.tools.length).toBeGreaterThan(0);
      const s = wrapScript(a, ctx);
      const body = a.body(ctx);
      expect(s.indexOf("command -v")).toBeLessThan(s.indexOf(body));
      expect(s.trimEnd().split("\n").slice(-2)).toEqual([`echo "${ranMarker(ctx.nonce)}"`, "exit 0"]);
      for (const t of a.tools) expect(s).toContain(` ${t}`);
    }
  });

  test("scripts never carry a planted secret value; they read it from the env by name", () => {
    for (const a of attacks(ctx)) {
      const s = wrapScript(a, ctx);
      for (const sec of ctx.secrets) expect(s.includes(sec.value)).toBe(false);
    }
  });

  test("sealed attacks print their tool's own exit code (the tool is last in its pipeline)", () => {
    for (const a of attacks(ctx).filter((x) => x.expected.startsWith("sealed") && x.id !== "6.noproxy-curl")) {
      const line = a.body(ctx).split("\n").find((l) => l.includes('echo "RC=$?"'));
      expect(line).toBeDefined();
      // `dig ... | head -5; echo RC=$?` would report head's status (and cut dig's answer).
      const last = line!.split(' 2>&1; echo "RC=$?"')[0]!.split("|").at(-1)!.trim();
      expect(last).toMatch(/^(timeout|dig|getent) /);
    }
  });
});

describe("did it run?", () => {
  const a = attacks(ctx).find((x) => x.id === "6.tcp-docker0")!;
  const ev = (stdout: string, code = 0): Evidence => ({ exec: { code, stdout, stderr: "" }, audit: [], arrivals: [] });

  test("a missing tool, no marker, or a bad exit code: did not run, and never a pass", () => {
    expect(notRun(ev(`CB-MISSING: socat\n`, 3), ctx)).toBe("did not run: missing socat");
    expect(notRun(ev(""), ctx)).toMatch(/no ran-marker/);
    expect(notRun(ev(`${ranMarker("other")}\n`), ctx)).toMatch(/no ran-marker/);
    expect(notRun(ev(`${ranMarker(ctx.nonce)}\n`, 137), ctx)).toMatch(/exited 137/);
    const o = outcomeOf(a, judgeAttack(a, ev("", 127), ctx));
    expect([o.ran, o.blocked, o.pass]).toEqual([false, false, false]);
    // A control that did not run does not pass either.
    const c = controls(ctx)[0]!;
    expect(outcomeOf(c, judgeAttack(c, ev(""), ctx), true).pass).toBe(false);
  });

  test("an overflowed receiver fails the attack instead of judging a partial record", () => {
    const v = judgeAttack(a, ev(`RC=1\n${ranMarker(ctx.nonce)}\n`), ctx, true);
    expect(v.blocked).toBe(false);
    expect(v.detail).toMatch(/evidence incomplete/);
  });
});

describe("arrival log", () => {
  test("windows, and an overflow is reported instead of dropped silently", () => {
    const log = arrivalLog(10);
    log.add({ kind: "tcp", receiver: "tcp x", from: "a", text: "12345" });
    const w1 = log.take();
    expect(w1.arrivals.length).toBe(1);
    expect(w1.overflowed).toBe(false);
    log.add({ kind: "tcp", receiver: "tcp x", from: "a", text: "1234567890" });
    log.add({ kind: "tcp", receiver: "tcp x", from: "a", text: "leak" });
    const w2 = log.take();
    expect(w2.overflowed).toBe(true);
    expect(w2.bytes).toBe(14);
    // The piece past the cap is still an arrival (without its bytes).
    expect(w2.arrivals.length).toBe(2);
    expect(log.take()).toEqual({ arrivals: [], overflowed: false, bytes: 0 });
  });
});

describe("report", () => {
  test("table and JSON agree; attacks that did not run are counted and marked", () => {
    const ok = outcomeOf(attacks(ctx)[0]!, { blocked: true, layer: "gate-policy", detail: "refused" });
    const bad = outcomeOf(attacks(ctx).find((x) => x.id === "6.udp-docker0")!, { blocked: false, layer: null, detail: "got through" });
    const skipped = outcomeOf(attacks(ctx).find((x) => x.id === "4.dig-docker0")!, { blocked: false, layer: null, detail: "did not run: missing dig", ran: false });
    const r = buildReport("docker", [ok, bad, skipped]);
    expect([r.passed, r.failed, r.notRun]).toEqual([1, 2, 1]);
    const t = renderTable(r);
    expect(t).toContain("NOT RUN");
    expect(t).toContain("did not run: missing dig");
    expect(t).toContain("2 of 3 attacks NOT blocked as expected (1 did not run)");
    expect(JSON.parse(JSON.stringify(r)).outcomes[2].ran).toBe(false);
  });

  test("the table lines up wide characters (a detail quoting a CJK or emoji response) and colours the result only when asked", () => {
    const a = attacks(ctx)[0]!;
    const wide = { ...outcomeOf(a, { blocked: true, layer: "gate-policy", detail: "x" }), title: "请求被阻止 👍🏽 blocked" };
    const plain = outcomeOf(attacks(ctx).find((x) => x.id === "6.udp-docker0")!, { blocked: false, layer: null, detail: "got through" });
    const r = buildReport("docker", [wide, plain]);
    const lines = renderTable(r).split("\n");
    expect(renderTable(r)).not.toContain("\x1b");
    // The "expected layer" column starts at the same terminal cell on the
    // header and on both rows, after the wide title.
    const cellOf = (line: string, after: string, value: string) => Bun.stringWidth(line.slice(0, line.indexOf(value, line.indexOf(after) + after.length)));
    const at = [cellOf(lines[0]!, "what", "expected layer"), cellOf(lines[2]!, wide.title, wide.expected), cellOf(lines[3]!, plain.title, plain.expected)];
    expect(at[1]).toBe(at[0]!);
    expect(at[2]).toBe(at[0]!);
    const colored = renderTable(r, true);
    expect(colored).toContain("\x1b[31m\x1b[1mFAIL");
    expect(colored).toContain("\x1b[32mok");
    expect(Bun.stringWidth(colored.split("\n")[2]!)).toBe(Bun.stringWidth(lines[2]!));
  });
});
