import { describe, expect, test } from "bun:test";
import { buildAutomaton } from "../../../../src/gate/dlp/automaton.ts";
import { compileDlp } from "../../../../src/gate/dlp/index.ts";
import { prng, randomToken } from "./corpus.ts";

const te = new TextEncoder();

// Plain walk of the automaton (no skipping), reporting (needle id, end).
function walk(needles: string[], text: string, fold: boolean): string[] {
  const a = buildAutomaton(needles.map((n) => te.encode(n)), fold);
  const data = te.encode(text);
  const hits: string[] = [];
  let s = 0;
  for (let i = 0; i < data.length; i++) {
    let t = a.table[s + a.cls[data[i]!]!]!;
    if (t < 0) {
      t = ~t;
      for (const id of a.outputs[t / a.stride]!) hits.push(`${id}@${i}`);
    }
    s = t;
  }
  return hits.sort();
}

function naive(needles: string[], text: string, fold: boolean): string[] {
  const hits: string[] = [];
  const t = fold ? text.toLowerCase() : text;
  needles.forEach((n, id) => {
    const nn = fold ? n.toLowerCase() : n;
    for (let i = t.indexOf(nn); i !== -1; i = t.indexOf(nn, i + 1)) hits.push(`${id}@${i + nn.length - 1}`);
  });
  return hits.sort();
}

describe("buildAutomaton", () => {
  test("finds every occurrence of every needle, overlapping ones included", () => {
    const needles = ["he", "she", "his", "hers", "ushers"].map((n) => n + "x").concat(["aaa", "aaaa"]);
    const text = "ushersx shex hisx hersx aaaaaa";
    expect(walk(needles, text, false)).toEqual(naive(needles, text, false));
  });
  test("random needles and texts over a tiny alphabet agree with a naive search", () => {
    const r = prng(1);
    for (let round = 0; round < 200; round++) {
      const needles = Array.from({ length: 1 + Math.floor(r() * 8) }, (_, k) => randomToken(3 + Math.floor(r() * 6), round * 100 + k, "abAB"));
      const text = randomToken(300, round + 10_000, "abAB ");
      const fold = round % 2 === 0;
      expect(walk(needles, text, fold)).toEqual(naive(needles, text, fold));
    }
  });
  test("case folding", () => {
    expect(walk(["AKIA"], "akia AKIA AkIa", true)).toEqual(["0@13", "0@3", "0@8"]);
    expect(walk(["AKIA"], "akia AKIA AkIa", false)).toEqual(["0@8"]);
  });
  test("rejects needles shorter than 3 bytes", () => {
    expect(() => buildAutomaton([te.encode("ab")], false)).toThrow("at least 3 bytes");
  });
});

describe("engine with the pair-skip filter agrees with a naive search", () => {
  // Secrets over a 3-letter alphabet overlap with each other and with the
  // text constantly: the worst case for skipping and for the overlap tail.
  test("random secrets, random texts, random chunking", () => {
    const r = prng(2);
    for (let round = 0; round < 150; round++) {
      const secrets = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, k) => ({
        name: `S${k}`,
        value: randomToken(8 + Math.floor(r() * 8), round * 10 + k, "abc"),
      }));
      const dlp = compileDlp({ secrets, placeholders: [] });
      const text = randomToken(150 + Math.floor(r() * 200), round + 50_000, "abc");
      const expected = secrets.some((s) => text.includes(s.value));
      const bytes = te.encode(text);
      // Random chunk sizes, including 1.
      const s = dlp.bodyScanner();
      let f = null;
      for (let i = 0; i < bytes.length && !f; ) {
        const n = 1 + Math.floor(r() * 40);
        f = s.push(bytes.subarray(i, i + n));
        i += n;
      }
      f ??= s.end();
      expect({ round, found: f !== null }).toEqual({ round, found: expected });
      if (f) expect(secrets.some((x) => f!.rule === `secret:${x.name}` && text.includes(x.value))).toBe(true);
      // The complete-input path (headers) agrees too.
      expect(dlp.scanHeaders([["x", text]]) !== null).toBe(expected);
    }
  });
});
