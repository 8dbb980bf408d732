import { describe, expect, test } from "bun:test";
import { attacks, controls } from "../../../src/selftest/attacks.ts";
import { outcomeOf } from "../../../src/selftest/outcome.ts";
import { buildReport, renderTable } from "../../../src/selftest/report.ts";
import type { AttackContext, Observed } from "../../../src/selftest/types.ts";
import type { AuditRecord } from "../../../src/gate/types.ts";

const ctx: AttackContext = {
  proxy: "http://127.0.0.1:3128",
  allowedHost: "allowed.selftest.test",
  allowedHttpsUrl: "https://allowed.selftest.test:8443/",
  allowedHttpUrl: "http://allowed.selftest.test:8080/",
  secrets: [
    { name: "TEST_SECRET_AWS", value: "AKIAIOSFODNN7EXAMPLE" },
    { name: "TEST_SECRET_GITHUB", value: "ghp_" + "a".repeat(36) },
    { name: "TEST_SECRET_ANTHROPIC", value: "sk-ant-api03-" + "b".repeat(40) },
    { name: "TEST_SECRET_GENERIC", value: "Zq8vT1mP0xR4kL9sW2nB7cY5" },
  ],
  credential: { envVar: "SELFTEST_TOKEN", realValue: "real-token-value-1234567890", placeholderHost: "allowed.selftest.test" },
  otherAllowedHost: "other.selftest.test",
  wildcardDomain: "wild.selftest.test",
  hostListeners: [{ label: "host-loopback", host: "127.0.0.1", port: 5555 }],
  gitRemoteUrl: "https://git.example.test/repo.git",
};

const deny = (layer: AuditRecord["layer"]): AuditRecord => ({
  time: new Date().toISOString(),
  bottle: "s",
  method: "GET",
  host: "evil.example",
  port: 80,
  path: "/",
  decision: "deny",
  reason: "x",
  layer,
  status: 403,
  bytes_out: 0,
  bytes_in: 0,
});
const nothing: Observed = { audit: [], upstream: "" };
const byId = (id: string) => attacks(ctx).find((a) => a.id === id)!;

describe("escape catalogue", () => {
  test("covers every category of the suite", () => {
    const cats = new Set(attacks(ctx).map((a) => a.category));
    for (const c of [1, 2, 3, 4, 5, 6, 7, 8, 9]) expect(cats.has(c)).toBe(true);
  });

  test("ids are unique and scripts never carry a planted secret value on their own", () => {
    const list = attacks(ctx);
    expect(new Set(list.map((a) => a.id)).size).toBe(list.length);
    for (const a of list) {
      const s = a.script(ctx);
      for (const sec of ctx.secrets) expect(s.includes(sec.value)).toBe(false);
    }
  });

  test("a gate refusal with the expected audit layer passes", () => {
    const a = byId("1.http-host");
    const v = a.judge({ code: 0, stdout: "CURL=0 HTTP=403\nblocked: host not in allowlist", stderr: "" }, { audit: [deny("policy")], upstream: "" }, ctx);
    expect(outcomeOf(a, v).pass).toBe(true);
  });

  test("a refusal by the wrong layer fails", () => {
    const a = byId("1.http-host");
    const v = a.judge({ code: 0, stdout: "CURL=0 HTTP=403\nblocked: x", stderr: "" }, { audit: [deny("dlp")], upstream: "" }, ctx);
    const o = outcomeOf(a, v);
    expect(o.blocked).toBe(true);
    expect(o.pass).toBe(false);
  });

  test("anything reaching the upstream fails, even with a 403 seen", () => {
    const a = byId("3.body-raw");
    const v = a.judge({ code: 0, stdout: "CURL=0 HTTP=403", stderr: "" }, { audit: [deny("dlp")], upstream: "POST /" }, ctx);
    expect(outcomeOf(a, v).pass).toBe(false);
  });

  test("a 200 from the allowed host is not a block", () => {
    const a = byId("3.query-raw");
    const v = a.judge({ code: 0, stdout: "CURL=0 HTTP=200\nupstream-ok", stderr: "" }, nothing, ctx);
    expect(v.blocked).toBe(false);
  });

  test("sealed-network attacks pass only when nothing connected", () => {
    const a = byId("6.tcp-public");
    expect(outcomeOf(a, a.judge({ code: 0, stdout: "no connection rc=1", stderr: "" }, nothing, ctx)).pass).toBe(true);
    expect(outcomeOf(a, a.judge({ code: 0, stdout: "CONNECTED", stderr: "" }, nothing, ctx)).pass).toBe(false);
    const dig = byId("4.dig-public");
    expect(outcomeOf(dig, dig.judge({ code: 0, stdout: ";; ANSWER SECTION:\nexample.com. 1 IN A 1.2.3.4", stderr: "" }, nothing, ctx)).pass).toBe(false);
  });

  test("the credential check fails on any FOUND line", () => {
    const a = byId("9.credential-absent");
    expect(a.user).toBe("0");
    expect(outcomeOf(a, a.judge({ code: 0, stdout: "FOUND env\n", stderr: "" }, nothing, ctx)).pass).toBe(false);
    expect(outcomeOf(a, a.judge({ code: 0, stdout: "placeholder-prefix=real-tok\n", stderr: "" }, nothing, ctx)).pass).toBe(true);
  });

  test("credential echo: passes only when the bottle got the placeholder / a 502 and the gate's dlp layer acted", () => {
    const real = ctx.credential.realValue;
    const upstream = `GET /echo\nauthorization: Bearer ${real}\n\n\n`;
    const audit = (decision: "allow" | "deny"): AuditRecord => ({ ...deny("dlp"), decision, status: decision === "allow" ? 200 : 502 });
    const body = byId("9.credential-echo-body");
    expect(body.expected).toBe("gate-dlp");
    const s = body.script(ctx);
    expect(s).toContain("$SELFTEST_TOKEN");
    expect(s).toContain("/echo");
    expect(s).not.toContain(real);
    const replaced = { code: 0, stdout: "CURL=0 HTTP=200\nauthorization: Bearer stk_placeholder\nPLACEHOLDER-SEEN=1", stderr: "" };
    expect(outcomeOf(body, body.judge(replaced, { audit: [audit("allow")], upstream }, ctx)).pass).toBe(true);
    // The real value anywhere in the attacker's output fails, whatever else.
    const leaked = { ...replaced, stdout: replaced.stdout + `\nauthorization: Bearer ${real}` };
    const v = body.judge(leaked, { audit: [audit("allow")], upstream }, ctx);
    expect(v.blocked).toBe(false);
    expect(outcomeOf(body, v).pass).toBe(false);
    expect(v.detail).not.toContain(real);
    // Nothing echoed (the upstream never got the value), no placeholder, or no dlp audit: not a pass.
    expect(outcomeOf(body, body.judge(replaced, { audit: [audit("allow")], upstream: "GET /echo\n" }, ctx)).pass).toBe(false);
    expect(outcomeOf(body, body.judge({ ...replaced, stdout: "CURL=0 HTTP=200\nPLACEHOLDER-SEEN=0" }, { audit: [audit("allow")], upstream }, ctx)).pass).toBe(false);
    expect(outcomeOf(body, body.judge(replaced, { audit: [], upstream }, ctx)).pass).toBe(false);

    const header = byId("9.credential-echo-header");
    expect(header.script(ctx)).toContain("/echo-header");
    const refused = { code: 0, stdout: "CURL=0 HTTP=502\nblocked: upstream response contained the credential for SELFTEST_TOKEN\nPLACEHOLDER-SEEN=0", stderr: "" };
    expect(outcomeOf(header, header.judge(refused, { audit: [audit("deny")], upstream }, ctx)).pass).toBe(true);
    const through = { code: 0, stdout: `CURL=0 HTTP=200\nx-echo-authorization: Bearer ${real}\nupstream-ok`, stderr: "" };
    expect(outcomeOf(header, header.judge(through, { audit: [], upstream }, ctx)).pass).toBe(false);
    expect(outcomeOf(header, header.judge({ ...refused, stdout: "CURL=0 HTTP=200\nupstream-ok" }, { audit: [], upstream }, ctx)).pass).toBe(false);
  });

  test("git push: rejected by the scan passes; an updated upstream fails", () => {
    const a = attacks(ctx).find((x) => x.category === 5)!;
    const rejected = { code: 0, stdout: "remote: blocked: secret aws-access-key in README.md (commit abc)\n ! [remote rejected] HEAD -> x (pre-receive hook declined)\nPUSH=1", stderr: "" };
    expect(outcomeOf(a, a.judge(rejected, nothing, ctx)).pass).toBe(true);
    expect(outcomeOf(a, a.judge(rejected, { audit: [], upstream: "refs changed" }, ctx)).pass).toBe(false);
  });

  test("controls pass only when the request reached the upstream", () => {
    const [c] = controls(ctx);
    expect(outcomeOf(c!, c!.judge({ code: 0, stdout: "CURL=0 HTTP=200", stderr: "" }, { audit: [], upstream: "POST /" }, ctx), true).pass).toBe(true);
    expect(outcomeOf(c!, c!.judge({ code: 0, stdout: "CURL=56 HTTP=000", stderr: "" }, nothing, ctx), true).pass).toBe(false);
  });

  test("the report table and JSON agree", () => {
    const a = byId("1.http-host");
    const o = outcomeOf(a, { blocked: true, layer: "gate-policy", detail: "refused" });
    const bad = outcomeOf(byId("6.udp"), { blocked: false, layer: null, detail: "got through" });
    const r = buildReport("docker", [o, bad]);
    expect(r.passed).toBe(1);
    expect(r.failed).toBe(1);
    const t = renderTable(r);
    expect(t).toContain("FAIL");
    expect(t).toContain("1 of 2 attacks NOT blocked");
    expect(JSON.parse(JSON.stringify(r)).outcomes[1].pass).toBe(false);
    expect(t).not.toContain("\x1b");
  });

  test("the table lines up wide characters (a detail quoting a CJK or emoji response) and colours the result only when asked", () => {
    const a = byId("1.http-host");
    const wide = { ...outcomeOf(a, { blocked: true, layer: "gate-policy", detail: "x" }), title: "请求被阻止 👍🏽 blocked" };
    const plain = outcomeOf(byId("6.udp"), { blocked: false, layer: null, detail: "got through" });
    const r = buildReport("docker", [wide, plain]);
    const lines = renderTable(r).split("\n");
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
