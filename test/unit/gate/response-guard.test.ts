import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { makePlaceholder } from "../../../src/gate/credentials.ts";
import { compileResponseGuard, type ResponseGuard } from "../../../src/gate/response-guard.ts";
import { prng } from "../../helpers/prng.ts";

const REAL = "ghp_R3alT0kenValue0123456789abcdefABCD";
const PH = makePlaceholder(REAL);
const SHORT = "tok-9Xq2Lm7Z";
const SHORT_PH = makePlaceholder(SHORT);

const guard = () => compileResponseGuard({ GH: REAL, SH: SHORT }, { GH: PH, SH: SHORT_PH })!;

// Feeds `parts` through a stream and returns everything forwarded.
function run(g: ResponseGuard, parts: (string | Uint8Array)[]): { out: string; replaced: string[]; maxHeld: number } {
  const s = g.stream();
  const out: Buffer[] = [];
  const replaced: string[] = [];
  let maxHeld = 0;
  for (const p of parts) {
    const r = s.push(typeof p === "string" ? Buffer.from(p) : p);
    out.push(Buffer.from(r.out));
    replaced.push(...r.replaced);
    maxHeld = Math.max(maxHeld, s.held);
  }
  out.push(Buffer.from(s.end()));
  return { out: Buffer.concat(out).toString("latin1"), replaced, maxHeld };
}

describe("response guard", () => {
  test("placeholders from makePlaceholder have the real value's length (the guard relies on it)", () => {
    for (const v of [REAL, SHORT, "sk-ant-api03-" + "x".repeat(93) + "AA", "abc-", "a.b.c.d.e.f.g.h", "ÿÿÿÿ-abcdefgh"]) {
      const p = makePlaceholder(v);
      expect(Buffer.byteLength(p)).toBe(Buffer.byteLength(v));
    }
  });

  test("no credential long enough: no guard at all", () => {
    expect(compileResponseGuard({}, {})).toBeNull();
    expect(compileResponseGuard({ X: "short" }, { X: "shxrt" })).toBeNull();
  });

  test("find names the token_ref, never needs the value", () => {
    const g = guard();
    expect(g.find(Buffer.from(`HTTP/1.1 200 OK\r\nx-echo: token ${REAL}\r\n\r\n`))).toBe("GH");
    expect(g.find(Buffer.from(`x-echo: ${SHORT}`))).toBe("SH");
    expect(g.find(Buffer.from(`x-echo: ${PH} ${SHORT.slice(0, -1)}`))).toBeNull();
  });

  test("a value split at every offset across two chunks is replaced, and never forwarded", () => {
    const g = guard();
    for (const [v, ph] of [
      [SHORT, SHORT_PH],
      [REAL, PH],
    ] as const) {
      const text = `{"authorization":"Bearer ${v}","n":1}`;
      const want = text.replace(v, ph);
      for (let i = 1; i < text.length; i++) {
        const r = run(g, [text.slice(0, i), text.slice(i)]);
        expect(r.out).toBe(want);
        expect(r.replaced).toEqual([v === REAL ? "GH" : "SH"]);
      }
      // One byte at a time.
      const bytes = [...text].map((c) => c);
      expect(run(g, bytes).out).toBe(want);
    }
  });

  test("nothing of a value is forwarded before it is complete", () => {
    const g = guard();
    const s = g.stream();
    const a = s.push(Buffer.from(`data: x ${REAL.slice(0, 20)}`));
    expect(Buffer.from(a.out).toString()).toBe("data: x ");
    expect(s.held).toBe(20);
    const b = s.push(Buffer.from(`${REAL.slice(20)} y\n\n`));
    expect(Buffer.from(b.out).toString()).toBe(`${PH} y\n\n`);
    expect(s.held).toBe(0);
  });

  test("several values, overlapping prefixes, the placeholder's shared prefix", () => {
    const g = guard();
    const text = `ghp_ghp_${REAL}${REAL}ghp_x ${SHORT}tok-${SHORT} ${PH} end ghp_`;
    const want = `ghp_ghp_${PH}${PH}ghp_x ${SHORT_PH}tok-${SHORT_PH} ${PH} end ghp_`;
    for (let i = 0; i <= text.length; i++) expect(run(g, [text.slice(0, i), text.slice(i)]).out).toBe(want);
    // The trailing "ghp_" is a prefix: held until the end, then forwarded.
    const s = g.stream();
    expect(Buffer.from(s.push(Buffer.from("end ghp_")).out).toString()).toBe("end ");
    expect(Buffer.from(s.end()).toString()).toBe("ghp_");
  });

  test("matches a random reference over random splits", () => {
    const g = guard();
    for (let round = 0; round < 200; round++) {
      const parts: string[] = [];
      for (let k = 0; k < 8; k++) {
        const r = Math.random();
        parts.push(r < 0.2 ? REAL : r < 0.4 ? SHORT : r < 0.5 ? REAL.slice(0, 1 + (k % 30)) : randomBytes(1 + (k * 7) % 40).toString("base64"));
      }
      const text = parts.join("");
      const want = text.replaceAll(REAL, PH).replaceAll(SHORT, SHORT_PH);
      const cuts = [0, ...Array.from({ length: 5 }, () => Math.floor(Math.random() * text.length)).sort((a, b) => a - b), text.length];
      const chunks = cuts.slice(1).map((c, i) => text.slice(cuts[i]!, c));
      const r = run(g, chunks);
      expect(r.out).toBe(want);
      expect(r.out).not.toContain(REAL);
    }
  });

  // Random bytes are ordinary data, but some of them look like the start of
  // something: inside what the text view reads as a JSON string, a `\` and
  // up to four bytes after `\u` are an escape not yet complete and wait
  // for its last byte (up to 5 held); a tail that is a prefix of a needle
  // waits too. Anything else goes out at once, or minus a byte or two. The
  // bytes come from a seeded generator so a failure replays exactly (with
  // crypto randomness an escape at a chunk's end made the old "at most 2"
  // bound fail in about 1 run in 18, under load or not).
  test("ordinary data is held back only while it could still become a credential or an escape", () => {
    const needles = guard().needles.map((n) => n.value.toString("latin1"));
    const openEscape = /^\\(u[\s\S]{0,3})?$/;
    let escapes = 0;
    // Seed 5 ends a chunk inside an escape: the case the bound must allow.
    for (const seed of [1, 2, 5]) {
      const rand = prng(seed);
      const s = guard().stream();
      let total = 0;
      for (let i = 0; i < 2000; i++) {
        const chunk = Buffer.alloc(1000);
        for (let k = 0; k < chunk.length; k++) chunk[k] = Math.floor(rand() * 256);
        total += s.push(chunk).out.length;
        if (s.held <= 2) continue;
        const tail = chunk.subarray(chunk.length - s.held).toString("latin1");
        const why = openEscape.test(tail) ? "escape" : needles.some((n) => n.startsWith(tail)) ? "prefix" : `seed ${seed} chunk ${i} held ${JSON.stringify(tail)}`;
        expect(["escape", "prefix"]).toContain(why);
        if (why === "escape") escapes++;
      }
      total += s.end().length;
      expect(total).toBe(2000 * 1000);
    }
    expect(escapes).toBeGreaterThan(0);
  });

  test("JSON- and URL-encoded echoes are replaced with the same encoding of the placeholder", () => {
    const real = "abc/def+ghi=jkl";
    const ph = makePlaceholder(real);
    const g = compileResponseGuard({ K: real }, { K: ph })!;
    expect(g.replaceAll(Buffer.from(`{"a":"abc\\/def+ghi=jkl"}`)).out.toString()).toBe(`{"a":"${ph.replaceAll("/", "\\/")}"}`);
    expect(Buffer.from(g.replaceAll(Buffer.from(`?t=${encodeURIComponent(real)}&x`)).out).toString()).toBe(`?t=${encodeURIComponent(ph)}&x`);
  });

  test("a placeholder of another length (or none) becomes '*' of the value's length", () => {
    const g = compileResponseGuard({ A: "0123456789abcdef", B: "fedcba9876543210" }, { A: "short-one" })!;
    const r = g.replaceAll(Buffer.from("x 0123456789abcdef y fedcba9876543210 z"));
    expect(Buffer.from(r.out).toString()).toBe(`x ${"*".repeat(16)} y ${"*".repeat(16)} z`);
    expect(r.replaced.sort()).toEqual(["A", "B"]);
  });
});

describe("response guard: the text an agent reassembles", () => {
  const u4 = (s: string) => [...s].map((c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")).join("");
  const sse = (text: string) => `data: {"delta":{"text":"${text}"}}\n\n`;

  test("a JSON body with the value \\u-escaped: replaced in place, same length, escapes kept", () => {
    const body = `{"echo":"${u4(REAL)}"}`;
    const r = run(guard(), [body]);
    expect(r.out.length).toBe(body.length);
    expect(JSON.parse(r.out).echo).toBe(PH);
    expect(r.replaced).toEqual(["GH"]);
  });

  test("SSE: the value across two events' deltas, in every split of the bytes", () => {
    const body = sse(REAL.slice(0, 10)) + sse(REAL.slice(10));
    for (let at = 1; at < body.length; at++) {
      const g = guard();
      const s = g.stream("text/event-stream; charset=utf-8");
      const a = s.push(Buffer.from(body.slice(0, at)));
      const b = s.push(Buffer.from(body.slice(at)));
      expect(a.cut ?? b.cut).toBeUndefined();
      const out = Buffer.concat([a.out, b.out, s.end()]).toString();
      const text = out.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)).delta.text).join("");
      expect(text).toBe(PH);
    }
  });

  test("SSE: a byte order mark before the first data line (a client's UTF-8 decoding drops it), in every split", () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(sse(REAL.slice(0, 10)) + sse(REAL.slice(10)))]);
    for (let at = 1; at < body.length; at++) {
      const s = guard().stream("text/event-stream");
      const a = s.push(body.subarray(0, at));
      const b = s.push(body.subarray(at));
      expect(a.cut ?? b.cut).toBeUndefined();
      const out = new TextDecoder().decode(Buffer.concat([a.out, b.out, s.end()]));
      const text = out.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)).delta.text).join("");
      expect(text).toBe(PH);
    }
  });

  test("past the hold-back bound, a completion over bytes already sent cuts the stream", () => {
    const s = guard().stream("text/event-stream");
    // Enough of the value to be worth holding, then 100 KiB of other
    // events, then the rest.
    const first = s.push(Buffer.from(sse(REAL.slice(0, 20))));
    const filler = s.push(Buffer.from(`data: {"other":"${"x".repeat(100 * 1024)}"}\n\n`));
    const last = s.push(Buffer.from(sse(REAL.slice(20))));
    expect(last.cut).toBe("GH");
    const sent = Buffer.concat([first.out, filler.out, last.out]).toString();
    expect(sent).not.toContain(REAL.slice(20));
    // Nothing more goes out after a cut.
    expect(s.push(Buffer.from("data: more\n\n")).out.length).toBe(0);
    expect(s.end().length).toBe(0);
  });

  test("a character the stand-in cannot spell in the same escape: cut, not leaked", () => {
    const real = "abc/def/ghi/jkl/mno";
    const g = compileResponseGuard({ X: real }, {})!; // no placeholder: '*' stand-in
    const s = g.stream();
    const r = s.push(Buffer.from(`{"v":"${real.replaceAll("/", "\\/").slice(0, 8)}`));
    const r2 = s.push(Buffer.from(`${real.replaceAll("/", "\\/").slice(8)}"}`));
    expect(r.cut ?? r2.cut).toBe("X");
    expect(Buffer.concat([r.out, r2.out]).toString()).not.toContain("def");
  });

  test("keys and plain-text events are read too", () => {
    expect(run(guard(), [`{"${u4(REAL)}":1}`]).out).toBe(`{"${u4(PH)}":1}`);
    const g = guard();
    const s = g.stream("text/event-stream");
    const parts = [s.push(Buffer.from(`data: ${REAL.slice(0, 15)}\n\n`)), s.push(Buffer.from(`data: ${REAL.slice(15)}\n\n`))];
    const out = Buffer.concat([...parts.map((p) => p.out), s.end()]).toString();
    expect(out.replace(/data: |\n/g, "")).toBe(PH);
  });
});
