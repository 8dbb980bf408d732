import { expect, test } from "bun:test";
import { join } from "node:path";
import { ChunkedDecoder, ChunkedError, encodeChunk, LAST_CHUNK, MAX_EXT, MAX_SIZE_DIGITS, MAX_TRAILERS } from "../../src/gate/http/chunked.ts";
import { caseCount, chance, finding, int, minimize, pick, rng, SEED, show, type Rng } from "./wire.ts";

// Chunked bodies, differential against two references: a decoder written
// here straight from the ABNF of RFC 9112 §7.1 (regular expressions, whole
// input at once: obviously correct, not fast), and llhttp (Node's parser,
// run by `node` on the same bytes). The gate's streaming decoder is fed each
// body split at random points (every split and byte by byte when short): the
// outcome must not depend on the split, nor on whether the payload is kept. Whatever it accepts the RFC must
// allow, with the same payload and the same end; llhttp, where it accepts
// too, must frame it the same way. What the RFC allows the gate accepts,
// except past its documented limits and whitespace in chunk lines (refused,
// as llhttp does).
const N = caseCount(12_000);
const REF = join(import.meta.dir, "llhttp-chunked.cjs");
const NEXT = "GET /next HTTP/1.1\r\nHost: b\r\n\r\n";

// ---- The RFC 9112 §7.1 reference -------------------------------------------
// chunked-body = *chunk last-chunk trailer-section CRLF
// chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; chunk-size = 1*HEXDIG
// last-chunk = 1*("0") [ chunk-ext ] CRLF
// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
// chunk-ext-name = token; chunk-ext-val = token / quoted-string
// trailer-section = *( field-line CRLF ); field-line = field-name ":" OWS field-value OWS
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
const VCHAR = "[\\x21-\\x7e\\x80-\\xff]";
const FIELD_VALUE = `(?:${VCHAR}(?:[ \\t\\x21-\\x7e\\x80-\\xff]*${VCHAR})?)?`;
const grammar = (bws: string) => ({
  chunkLine: new RegExp(`([0-9A-Fa-f]+)((?:${bws};${bws}${TOKEN}(?:${bws}=${bws}(?:${TOKEN}|${QUOTED}))?)*)\\r\\n`, "y"),
  fieldLine: new RegExp(`${TOKEN}:[ \\t]*${FIELD_VALUE}[ \\t]*\\r\\n`, "y"),
});
const RFC = grammar("[ \\t]*");
const NO_BWS = grammar("");

type Framed = { ok: true; end: number; data: string; digits: number; ext: number; trailers: number } | { ok: false };

function rfcDecode(s: string, g = RFC): Framed {
  let p = 0;
  let data = "";
  let digits = 0;
  let ext = 0;
  for (;;) {
    g.chunkLine.lastIndex = p;
    const m = g.chunkLine.exec(s);
    if (!m) return { ok: false };
    digits = Math.max(digits, m[1]!.length);
    ext = Math.max(ext, m[2]!.length);
    p += m[0].length;
    const size = parseInt(m[1]!, 16);
    if (size === 0) break;
    if (p + size + 2 > s.length || s.slice(p + size, p + size + 2) !== "\r\n") return { ok: false };
    data += s.slice(p, p + size);
    p += size + 2;
  }
  const trailerStart = p;
  for (;;) {
    g.fieldLine.lastIndex = p;
    const m = g.fieldLine.exec(s);
    if (!m) break;
    p += m[0].length;
  }
  if (s.slice(p, p + 2) !== "\r\n") return { ok: false };
  return { ok: true, end: p + 2, data, digits, ext, trailers: p - trailerStart };
}

// ---- The gate's decoder, fed in pieces -------------------------------------
type Outcome = { kind: "ok"; end: number; data: string } | { kind: "error"; reason: string } | { kind: "incomplete" };

function ours(s: string, cuts: number[], payload = true): Outcome {
  const bytes = Buffer.from(s, "latin1");
  const d = new ChunkedDecoder(payload);
  let data = "";
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    let r: ReturnType<ChunkedDecoder["push"]>;
    try {
      r = d.push(bytes.subarray(from, to));
    } catch (e) {
      if (!(e instanceof ChunkedError)) throw e;
      return { kind: "error", reason: e.message };
    }
    for (const x of r.data) data += Buffer.from(x).toString("latin1");
    if (r.end >= 0) return { kind: "ok", end: from + r.end, data };
    from = to;
  }
  return { kind: "incomplete" };
}

const key = (o: Outcome) => JSON.stringify(o);

// Every split strategy must agree with the one-piece reading, and a
// decoder that only looks for the end (the response relay's) must find the
// same end and the same errors.
function splitProblem(s: string, r: Rng): string | null {
  const whole = ours(s, []);
  const endOnly = ours(s, [], false);
  if (key(endOnly) !== key(whole.kind === "ok" ? { ...whole, data: "" } : whole)) return `without payload: ${key(endOnly)}, with: ${key(whole)}`;
  const tries: number[][] = [];
  if (s.length <= 48) {
    for (let c = 1; c < s.length; c++) tries.push([c]);
    tries.push(Array.from({ length: s.length - 1 }, (_, i) => i + 1));
  } else {
    for (let t = 0; t < 4; t++) tries.push([...new Set(Array.from({ length: 1 + int(r, 6) }, () => 1 + int(r, s.length - 1)))].sort((a, b) => a - b));
  }
  for (const cuts of tries) {
    const o = ours(s, cuts);
    if (key(o) !== key(whole)) return `split at ${cuts.slice(0, 8).join(",")}${cuts.length > 8 ? ",…" : ""}: ${key(o)}, in one piece: ${key(whole)}`;
  }
  return null;
}

const LIMIT_REASONS = new Set(["chunk size too large", "chunk extension too long", "trailers too large"]);

// The verdict on one input against the RFC reference (llhttp is compared in
// bulk, below).
function rfcProblem(s: string): string | null {
  const o = ours(s, []);
  const rfc = rfcDecode(s);
  if (o.kind === "ok") {
    if (!rfc.ok) return `the gate accepts what RFC 9112 forbids (end ${o.end})`;
    if (o.end !== rfc.end) return `end offset: gate ${o.end}, RFC ${rfc.end}`;
    if (o.data !== rfc.data) return `payload differs: gate ${show(o.data)}, RFC ${show(rfc.data)}`;
    return null;
  }
  const strict = rfcDecode(s, NO_BWS);
  if (!strict.ok) return null; // RFC-forbidden, or whitespace the gate refuses on purpose
  if (o.kind === "error" && LIMIT_REASONS.has(o.reason)) {
    if (strict.digits > MAX_SIZE_DIGITS || strict.ext > MAX_EXT || strict.trailers > MAX_TRAILERS) return null;
    return `refused for "${o.reason}" within the limits (digits ${strict.digits}, ext ${strict.ext}, trailers ${strict.trailers})`;
  }
  return `the gate ${o.kind === "error" ? `refuses (${o.reason})` : "waits for more"} on a valid body ending at ${strict.end}`;
}

// ---- Generation --------------------------------------------------------------
const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DATA = "abc0\r\n;:= \t\"\\\x00\x7f\x80\xff";
const token = (r: Rng, max = 6) => Array.from({ length: 1 + int(r, max) }, () => pick(r, [...TCHARS])).join("");

function hexSize(r: Rng, n: number): string {
  let h = n.toString(16);
  if (chance(r, 0.3)) h = h.toUpperCase();
  else if (chance(r, 0.2)) h = [...h].map((c) => (chance(r, 0.5) ? c.toUpperCase() : c)).join("");
  if (chance(r, 0.15)) h = "0".repeat(1 + int(r, chance(r, 0.3) ? 14 : 4)) + h;
  return h;
}

function quoted(r: Rng): string {
  let q = '"';
  for (let i = int(r, 6); i > 0; i--) q += chance(r, 0.2) ? "\\" + pick(r, [...'"\\a \t\x80']) : pick(r, [..."ab ;=,\t\x80\xff!#"]);
  return q + '"';
}

function ext(r: Rng): string {
  let e = "";
  for (let i = chance(r, 0.7) ? 0 : 1 + int(r, 3); i > 0; i--) {
    e += ";" + token(r);
    if (chance(r, 0.6)) e += "=" + (chance(r, 0.5) ? token(r) : quoted(r));
  }
  return e;
}

function trailers(r: Rng): string {
  let t = "";
  for (let i = chance(r, 0.6) ? 0 : 1 + int(r, 3); i > 0; i--) {
    t += `${token(r, 10)}:${pick(r, ["", " ", "\t", "  "])}${Array.from({ length: int(r, 8) }, () => pick(r, [..."ab1 \t\x80\xff,;\""])).join("").trim()}${pick(r, ["", " "])}\r\n`;
  }
  return t;
}

function valid(r: Rng): string {
  let s = "";
  for (let i = int(r, 5); i > 0; i--) {
    const n = chance(r, 0.1) ? 100 + int(r, 300) : 1 + int(r, 12);
    s += hexSize(r, n) + ext(r) + "\r\n" + Array.from({ length: n }, () => pick(r, [...DATA])).join("") + "\r\n";
  }
  return s + pick(r, ["0", "0", "0", "00", "000"]) + ext(r) + "\r\n" + trailers(r) + "\r\n";
}

// Places where a mutation may strike: the CRLFs and the chunk-size lines.
const crlfs = (s: string) => [...s.matchAll(/\r\n/g)].map((m) => m.index!);

const MUTATIONS: ((s: string, r: Rng) => string)[] = [
  // line endings: bare LF, bare CR, missing, doubled
  (s, r) => {
    const at = pick(r, crlfs(s));
    return s.slice(0, at) + pick(r, ["\n", "\r", "", "\r\r\n", "\n\r", "\r\n\r\n"]) + s.slice(at + 2);
  },
  // bad hex in a size
  (s, r) => {
    const at = pick(r, [0, ...crlfs(s).map((i) => i + 2)]);
    return s.slice(0, at) + pick(r, ["g", "x", "0x", "+", "-", " ", "\t", "_", "\x00", "\xff", ""]) + s.slice(at);
  },
  // sizes that overflow: more digits than the gate takes, past 2^53, past 2^64
  (s, r) => pick(r, ["1" + "0".repeat(11 + int(r, 10)), "20000000000000", "1fffffffffffff", "fffffffffffff", "ffffffffffffffff", "10000000000000000", "0".repeat(13 + int(r, 4)) + "5"]) + "\r\n" + s,
  // the size says one more or one less than the data
  (s, r) => s.replace(/^([0-9a-fA-F]+)/, (h) => Math.max(0, parseInt(h, 16) + pick(r, [-1, 1])).toString(16)),
  // extensions: huge, or broken grammar
  (s, r) => {
    const at = s.indexOf("\r\n");
    const bad = chance(r, 0.3)
      ? ";" + token(r) + "=" + "v".repeat(MAX_EXT - 10 + int(r, 20))
      : pick(r, [";", ";;", "; a", " ;a", ";a ", ";a=", ";=b", ';a="b', ';a=b"', ";a=b c", ";a\x00", ";a\x7f", ";\x80", ';a="\x00"', ';a="\\\x01"', ";a=\x80", ";a;", ";a\tb", ";a=\tb", "\t;a"]);
    return s.slice(0, at) + bad + s.slice(at);
  },
  // trailers: obs-fold, no colon, space before the colon, empty or odd names, control bytes, too many bytes
  (s, r) => {
    const t = pick(r, ["X: a\r\n folded\r\n", "X: a\r\n\tfolded\r\n", "garbage\r\n", "X : a\r\n", ": a\r\n", " X: a\r\n", "X\x80: a\r\n", "X: a\x00b\r\n", "X: a\x7f\r\n", "X: a\rb\r\n", "X: a\nb\r\n", "X;: a\r\n", `X: ${"t".repeat(MAX_TRAILERS - 10 + int(r, 20))}\r\n`]);
    return s.slice(0, -2) + t + "\r\n";
  },
  // one byte flipped, inserted or deleted
  (s, r) => {
    const at = int(r, s.length);
    const c = String.fromCharCode(pick(r, [0, 9, 10, 13, 32, 34, 48, 58, 59, 61, 65, 92, 127, 128, 255, int(r, 256)]));
    return pick(r, [s.slice(0, at) + c + s.slice(at + 1), s.slice(0, at) + c + s.slice(at), s.slice(0, at) + s.slice(at + 1)]);
  },
  // truncated
  (s, r) => s.slice(0, int(r, s.length)),
];

function body(r: Rng): string {
  let s = valid(r);
  for (let m = chance(r, 0.35) ? 0 : 1 + int(r, 2); m > 0; m--) s = pick(r, MUTATIONS)(s, r);
  // What follows the body: the next request, or bytes that look like more chunks.
  return s + pick(r, [NEXT, NEXT, "0\r\n\r\n", "\r\n", "5\r\nhello\r\n"]);
}

// ---- llhttp, in bulk ---------------------------------------------------------
type LlResult = { done: boolean; where: "at" | "before" | "after" | null; data: string; err: string | null };

function llhttp(cases: { s: string; end: number }[]): LlResult[] {
  const input = cases.map((c) => `${c.end} ${Buffer.from(c.s, "latin1").toString("base64")}`).join("\n") + "\n";
  const r = Bun.spawnSync(["node", REF], { stdin: Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`node llhttp reference failed: ${r.stderr}`);
  return r.stdout.toString().trimEnd().split("\n").map((l) => JSON.parse(l));
}

function llhttpProblem(o: Outcome, ll: LlResult): string | null {
  if (o.kind !== "ok" || !ll.done) return null;
  if (ll.where !== "at") return `llhttp ends the body ${ll.where} the gate's end (${o.end})`;
  const theirs = Buffer.from(ll.data, "base64").toString("latin1");
  if (theirs !== o.data) return `payload differs: gate ${show(o.data)}, llhttp ${show(theirs)}`;
  return null;
}

test(`chunked bodies: the gate frames what it accepts as RFC 9112 and llhttp do, however it is split (${N} cases, seed ${SEED})`, () => {
  const r = rng(7);
  const inputs = Array.from({ length: N }, () => body(r));
  const splits = rng(8);
  const shrink = (i: number, why: string, fails: (s: string) => string | null): never => {
    const small = minimize([...inputs[i]!], (cs) => fails(cs.join("")) !== null).join("");
    throw finding("chunked", i, show(small), fails(small) ?? why);
  };
  const outcomes = inputs.map((s) => ours(s, []));
  for (const [i, s] of inputs.entries()) {
    const why = rfcProblem(s) ?? splitProblem(s, splits);
    if (why !== null) shrink(i, why, (t) => rfcProblem(t) ?? splitProblem(t, rng(8)));
  }
  const lls = llhttp(inputs.map((s, i) => ({ s, end: outcomes[i]!.kind === "ok" ? (outcomes[i] as { end: number }).end : -1 })));
  const single = (t: string) => {
    const o = ours(t, []);
    return llhttpProblem(o, llhttp([{ s: t, end: o.kind === "ok" ? o.end : -1 }])[0]!);
  };
  for (const [i, o] of outcomes.entries()) {
    const why = llhttpProblem(o, lls[i]!);
    if (why !== null) shrink(i, why, single);
  }
  const accepted = outcomes.filter((o) => o.kind === "ok").length;
  const onlyOurs = new Map<string, number>();
  let onlyTheirs = 0;
  for (const [i, o] of outcomes.entries()) {
    const ll = lls[i]!;
    if (o.kind === "ok" && !ll.done) onlyOurs.set(ll.err?.split(":")[0] ?? "incomplete", (onlyOurs.get(ll.err?.split(":")[0] ?? "incomplete") ?? 0) + 1);
    if (o.kind !== "ok" && ll.done) onlyTheirs++;
  }
  console.log(
    `chunked: ${N} cases, ${accepted} accepted by the gate; llhttp refused of those: ${[...onlyOurs].map(([k, v]) => `${k} ${v}`).join(", ") || "none"}; llhttp accepted ${onlyTheirs} the gate refused`,
  );
  // The generator must reach both sides.
  expect(accepted).toBeGreaterThan(N / 4);
  expect(accepted).toBeLessThan(N);
}, 120_000);

test(`the gate's chunk encoder round-trips through its decoder, the RFC reference and llhttp (seed ${SEED})`, () => {
  const r = rng(9);
  const cases = Array.from({ length: 300 }, () => {
    const parts = Array.from({ length: int(r, 5) }, () => Buffer.from(Array.from({ length: chance(r, 0.1) ? 70_000 : int(r, 40) }, () => int(r, 256))));
    const wire = Buffer.concat([...parts.flatMap((p) => encodeChunk(p)), LAST_CHUNK]).toString("latin1");
    return { want: Buffer.concat(parts).toString("latin1"), wire };
  });
  const lls = llhttp(cases.map((c) => ({ s: c.wire + NEXT, end: c.wire.length })));
  for (const [i, c] of cases.entries()) {
    expect(ours(c.wire + NEXT, [])).toEqual({ kind: "ok", end: c.wire.length, data: c.want });
    expect(rfcDecode(c.wire + NEXT)).toMatchObject({ ok: true, end: c.wire.length, data: c.want });
    expect(lls[i]).toMatchObject({ done: true, where: "at", data: Buffer.from(c.want, "latin1").toString("base64") });
  }
});
