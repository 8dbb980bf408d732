import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { redactor, standIn, type PeerFixture } from "../../../bench/lib/escape/capture.ts";
import { allowedArrival, carries, judgePeer, notApplicable } from "../../../bench/lib/escape/peer-judge.ts";
import { attacks, controls } from "../../../src/selftest/attacks/index.ts";
import { ranMarker } from "../../../src/selftest/script.ts";
import type { Attack, AttackContext, Evidence } from "../../../src/selftest/types.ts";

// The peer judge on what the REAL srt (0.0.78, bubblewrap 0.8.0) printed and
// what the real receivers recorded, captured by
//   bun run bench:escape -- --capture test/fixtures/selftest/srt.json
// for both srt sides: the allowlist alone, and TLS termination + masking.

const fx = (await Bun.file(new URL("../../fixtures/selftest/srt.json", import.meta.url)).json()) as PeerFixture;
// One attack of an earlier run that met srt's in-sandbox bridge before it
// listened (that run's judge called it blocked).
const bridge = (await Bun.file(new URL("../../fixtures/selftest/srt-bridge.json", import.meta.url)).json()) as PeerFixture;
const attackOf = (ctx: AttackContext, id: string): Attack => [...controls(ctx), ...attacks(ctx)].find((a) => a.id === id)!;
const caseOf = (side: "srt" | "srt_masked", id: string) => {
  const c = fx.cases.find((x) => x.side === side && x.id === id);
  if (!c) throw new Error(`no captured case ${side} ${id}`);
  return { ...c, ctx: fx.ctx[side], attack: attackOf(fx.ctx[side], id) };
};
const clone = (ev: Evidence): Evidence => JSON.parse(JSON.stringify(ev));

describe("peer judge, on captured srt runs", () => {
  test("judging again gives the verdict of the run, for every captured case", () => {
    expect(fx.cases.length).toBeGreaterThan(100);
    for (const c of fx.cases) {
      const v = judgePeer(attackOf(fx.ctx[c.side], c.id), c.evidence, fx.ctx[c.side]);
      expect(`${c.side} ${c.id} ${v.blocked}`).toBe(`${c.side} ${c.id} ${c.verdict.blocked}`);
    }
  });

  test("the secret as the method: the upstream's real 400 after a handshake, with no request recorded, is unknown, not a block", () => {
    const c = caseOf("srt", "3.method");
    expect(c.evidence.exec.stdout).toMatch(/^CURL=0 HTTP=400/m);
    expect(c.evidence.arrivals.some((a) => a.receiver === "upstream allowed.selftest.test")).toBe(false);
    const v = judgePeer(c.attack, c.evidence, c.ctx);
    expect(v.blocked).toBe(false);
    expect(v.detail).toMatch(/could not record/);
    // srt with termination cut the connection itself: nothing reached the upstream.
    const m = caseOf("srt_masked", "3.method");
    expect(judgePeer(m.attack, m.evidence, m.ctx).blocked).toBe(true);
  });

  test("an attack that met the sandbox's proxy closed (curl's real 'Couldn't connect') did not run, never a block", () => {
    const c = bridge.cases[0]!;
    const ctx = bridge.ctx[c.side];
    expect(c.evidence.exec.stdout).toMatch(/Failed to connect to localhost port 3128/);
    expect(c.verdict.blocked).toBe(true); // what the judge of that run said
    const v = judgePeer(attackOf(ctx, c.id), c.evidence, ctx);
    expect([v.blocked, v.ran]).toEqual([false, false]);
  });

  test("the controls got through on both sides (else no block proves anything)", () => {
    for (const side of ["srt", "srt_masked"] as const) {
      for (const id of ["0.control-https", "0.control-credential"]) {
        const c = caseOf(side, id);
        expect(judgePeer(c.attack, c.evidence, c.ctx).blocked).toBe(false);
      }
    }
  });

  test("allowlist alone: a secret in base64 to the allowed host, a Host mismatch, a key as a DNS label, a push around the git gate: through", () => {
    for (const [id, why] of [
      ["3.query-base64", /upstream allowed\.selftest\.test received TEST_SECRET_/],
      ["2.host-mismatch", /upstream evil\.selftest\.test received GET \//],
      ["4.crafted-subdomain", /received TEST_SECRET_GENERIC/],
      ["3.body-gzip", /received TEST_SECRET_AWS/],
      ["3.method", /could not record/],
      ["5.push-around-git-gate", /received a git push \(receive-pack\)/],
      ["5.receive-pack-spelling", /received a git push \(receive-pack\)/],
    ] as const) {
      const c = caseOf("srt", id);
      const v = judgePeer(c.attack, c.evidence, c.ctx);
      expect(v.blocked).toBe(false);
      expect(v.detail).toMatch(why);
    }
  });

  test("masked: the same requests arrive carrying stand-ins, which is a block; put the real value back and it is not", () => {
    for (const id of ["3.query-base64", "3.body-gzip", "4.crafted-subdomain", "2.host-mismatch"]) {
      const c = caseOf("srt_masked", id);
      const v = judgePeer(c.attack, c.evidence, c.ctx);
      expect(v.blocked).toBe(true);
      expect(c.evidence.arrivals.length).toBeGreaterThan(0);
    }
    const c = caseOf("srt_masked", "3.query-base64");
    const ev = clone(c.evidence);
    const secret = c.ctx.secrets.find((s) => s.name === "TEST_SECRET_ANTHROPIC")!.value;
    const last = ev.arrivals.at(-1)!;
    last.text += `?k=${Buffer.from(secret).toString("base64")}`;
    expect(judgePeer(c.attack, ev, c.ctx).blocked).toBe(false);
  });

  test("no ran-marker: did not run, never blocked; git and the gate kill: n/a", () => {
    const c = caseOf("srt_masked", "1.https-host");
    const ev = clone(c.evidence);
    ev.exec.stdout = ev.exec.stdout.replace(ranMarker(c.ctx.nonce), "");
    const v = judgePeer(c.attack, ev, c.ctx);
    expect([v.blocked, v.ran]).toEqual([false, false]);
    const git = attacks(c.ctx).find((a) => a.expected === "git-scan")!;
    expect(judgePeer(git, ev, c.ctx).na).toMatch(/no git gate/);
    expect(notApplicable({ id: "10.gate-killed", expected: "fail-closed" })).toMatch(/no gate process/);
  });

  test("an answer with nothing recorded is not a block: something unwatched answered", () => {
    const c = caseOf("srt", "1.https-host");
    const ev = clone(c.evidence);
    ev.arrivals = [];
    ev.exec.stdout = ev.exec.stdout.replace(/^CURL=\d+ HTTP=\d+/m, "CURL=0 HTTP=200");
    expect(judgePeer(c.attack, ev, c.ctx).blocked).toBe(false);
  });
});

// base32 as coreutils prints it (the attacks run `base32 -w0 | tr -d =`).
const b32 = (s: string) => Bun.spawnSync(["sh", "-c", "printf %s \"$0\" | base32 -w0 | tr -d =", s]).stdout.toString();

describe("what carries a secret, and what the policy allows", () => {
  const v = "sk-ant-api03-" + "Qw7".repeat(31) + "AA";
  test("raw, base64, hex, percent, a DNS label, gzip, a 12-character piece; not a stand-in", () => {
    const b = Buffer.from(v);
    for (const t of [
      `note=${v}`,
      b.toString("base64"),
      b.toString("hex").toUpperCase(),
      b.toString("hex").replace(/(..)/g, "%$1"),
      `A ${v.replace(/[^a-zA-Z0-9]/g, "x").slice(0, 60).toLowerCase()}.wild.selftest.test`,
      `(body)\n${gzipSync(Buffer.from(`hello ${v} bye`)).toString("latin1")}\n`,
      `x=${v.slice(20, 32)}`,
      // base32 without padding, lowercased, split across two DNS labels
      `A ${b32(v).slice(0, 50).toLowerCase()}.${b32(v).slice(50, 100).toLowerCase()}.wild.selftest.test`,
      // hex spelled in the letters g-v
      `A ${b.toString("hex").replace(/[0-9a-f]/g, (ch) => "ghijklmnopqrstuv"[parseInt(ch, 16)]!).slice(0, 60)}.wild.selftest.test`,
      // gzipped twice
      `(body)\n${gzipSync(gzipSync(Buffer.from(`hello ${v} bye`))).toString("latin1")}\n`,
    ]) {
      expect(carries(t, v)).toBe(true);
    }
    expect(carries(`note=${standIn("TEST_SECRET_ANTHROPIC", v)}`, v)).toBe(false);
    expect(carries("note=fake_value_8c0c7d1e-2f0b-4d5e-9a55-3f5e0b7c9d11", v)).toBe(false);
  });

  test("the redactor replaces every form consistently, so a fixture judges as the run did", () => {
    const ctx = fx.ctx.srt;
    const real: AttackContext = { ...ctx, secrets: [{ name: "TEST_SECRET_ANTHROPIC", value: v }] };
    const r = redactor(real);
    const gz = `(body)\n${gzipSync(gzipSync(Buffer.from(`hello ${v} bye`))).toString("latin1")}\n`;
    const out = r(gz);
    expect(carries(out, v)).toBe(false);
    expect(carries(out, standIn("TEST_SECRET_ANTHROPIC", v))).toBe(true);
  });

  test("the redactor rewrites a credential streamed back in halves so the halves still join to the stand-in", () => {
    const real = "stk_0f3a9c2b7d1e4f5a8b6c9d0e1f2a3b4c";
    const r = redactor({ ...fx.ctx.srt, secrets: [], credential: { ...fx.ctx.srt.credential, realValue: real } });
    const out = r(`data: {"text":"Bearer ${real.slice(0, 15)}"}\n\ndata: {"text":"${real.slice(15)}"}`);
    const joined = [...out.matchAll(/"text":"([^"]*)"/g)].map((m) => m[1]).join("");
    expect(joined).toBe(`Bearer ${standIn("credential", real)}`);
    expect(out).not.toContain(real.slice(4, 12));
  });

  test("allowed: requests, handshakes and lookups naming the allowed hosts; not the evil one, nor raw bytes with another Host", () => {
    const ctx = fx.ctx.srt;
    const a = (kind: "https" | "http" | "dns" | "tcp", receiver: string, text: string) => ({ kind, receiver, from: "127.0.0.1", text, bytes: text.length });
    expect(allowedArrival(a("https", "upstream allowed.selftest.test", "GET /\n"), ctx)).toBe(true);
    expect(allowedArrival(a("https", "upstream x1.wild.selftest.test", "GET /\n"), ctx)).toBe(true);
    expect(allowedArrival(a("https", "upstream https (tcp)", "(TLS handshake, SNI other.selftest.test)"), ctx)).toBe(true);
    expect(allowedArrival(a("dns", "dns host-resolver (udp)", "A allowed.selftest.test\nAAAA allowed.selftest.test"), ctx)).toBe(true);
    expect(allowedArrival(a("https", "upstream evil.selftest.test", "GET /\n"), ctx)).toBe(false);
    expect(allowedArrival(a("https", "upstream https (tcp)", "(TLS handshake, SNI evil.selftest.test)"), ctx)).toBe(false);
    expect(allowedArrival(a("http", "upstream http (tcp)", "GET / HTTP/1.1\r\nHost: allowed.selftest.test:1\r\n\r\nGET http://evil.selftest.test/ HTTP/1.1\r\nHost: evil.selftest.test\r\n\r\n"), ctx)).toBe(false);
    expect(allowedArrival(a("dns", "dns eth0 (udp)", "A allowed.selftest.test"), ctx)).toBe(false);
    expect(allowedArrival(a("tcp", "tcp host-loopback", "(connection)"), ctx)).toBe(false);
  });
});
