// A byte-level Aho-Corasick automaton compiled to a dense DFA.
//
// Why: the DLP engine looks for a few hundred literals at once (rule anchors
// such as "ghp_" or "-----BEGIN ", and every encoded variant of every
// secret). Running one regex or indexOf per literal costs a pass over the
// body per literal; the DFA costs one table lookup per byte whatever the
// number of literals, which is what keeps body scanning above 200 MB/s.
//
// Layout: bytes are first mapped to a small set of classes (the distinct
// bytes that occur in some needle, plus "other"), so the transition table is
// states x classes instead of states x 256 and stays cache friendly.
// Transition entries hold the target state already multiplied by the stride;
// an entry is stored bitwise-negated when the target state reports a match,
// so the hot loop needs a single sign test per byte.

export interface Automaton {
  // Byte -> class index.
  readonly cls: Uint8Array;
  // (state * stride + class) -> next state * stride, negated (~x) when the
  // next state has outputs.
  readonly table: Int32Array;
  readonly stride: number;
  // state -> needle ids ending there (including via failure links).
  readonly outputs: ReadonlyArray<readonly number[]>;
  // needle id -> needle length.
  readonly lengths: readonly number[];
  // (byte << 8 | next byte) -> 1 when some needle starts with that pair.
  // While the automaton is in its root state (no partial match under way),
  // a position whose pair is not in this set cannot start a match and can
  // be skipped without a table walk. In prose and code most pairs are not
  // needle prefixes, and this loop has no dependency from one byte to the
  // next, so it runs several times faster than the automaton itself.
  readonly pairs: Uint8Array;
  // Same for the needles' second and third bytes: a position is a
  // candidate only if both pairs fit.
  readonly pairs2: Uint8Array;
}

// `fold`: match ASCII letters case-insensitively (A-Z and a-z share a class).
export function buildAutomaton(needles: readonly Uint8Array[], fold: boolean): Automaton {
  const cls = new Uint8Array(256);
  const canon = (b: number): number => (fold && b >= 0x41 && b <= 0x5a ? b + 32 : b);
  let nClasses = 1;
  const classOf = new Int16Array(256).fill(-1);
  for (const n of needles) {
    if (n.length === 0) throw new Error("empty needle");
    for (const b of n) {
      const c = canon(b);
      if (classOf[c] === -1) classOf[c] = nClasses++;
    }
  }
  if (nClasses > 255) throw new Error("too many byte classes");
  for (let b = 0; b < 256; b++) cls[b] = Math.max(0, classOf[canon(b)]!);
  const stride = nClasses;

  // Trie. goto[-1] = absent.
  let total = 1;
  for (const n of needles) total += n.length;
  const go = new Int32Array(total * stride).fill(-1);
  const own: number[][] = [[]];
  let states = 1;
  needles.forEach((n, id) => {
    let s = 0;
    for (const b of n) {
      const c = cls[b]!;
      let t = go[s * stride + c]!;
      if (t === -1) {
        t = states++;
        own.push([]);
        go[s * stride + c] = t;
      }
      s = t;
    }
    own[s]!.push(id);
  });

  // BFS: failure links, completed transitions, merged outputs.
  const fail = new Int32Array(states);
  const delta = new Int32Array(states * stride);
  const outputs: number[][] = own.map((o) => o.slice());
  const queue: number[] = [];
  for (let c = 0; c < stride; c++) {
    const t = go[c]!;
    if (t === -1) delta[c] = 0;
    else {
      delta[c] = t;
      fail[t] = 0;
      queue.push(t);
    }
  }
  for (let qi = 0; qi < queue.length; qi++) {
    const s = queue[qi]!;
    const f = fail[s]!;
    if (outputs[f]!.length > 0) outputs[s]!.push(...outputs[f]!);
    for (let c = 0; c < stride; c++) {
      const t = go[s * stride + c]!;
      if (t === -1) delta[s * stride + c] = delta[f * stride + c]!;
      else {
        delta[s * stride + c] = t;
        fail[t] = delta[f * stride + c]!;
        queue.push(t);
      }
    }
  }
  const table = new Int32Array(states * stride);
  for (let i = 0; i < table.length; i++) {
    const t = delta[i]!;
    table[i] = outputs[t]!.length > 0 ? ~(t * stride) : t * stride;
  }
  const pairs = new Uint8Array(65536);
  const cases = (b: number): number[] =>
    fold && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) ? [b | 0x20, b & ~0x20] : [b];
  const pairs2 = new Uint8Array(65536);
  for (const n of needles) {
    if (n.length < 3) throw new Error("needles must be at least 3 bytes long");
    for (const a of cases(n[0]!)) for (const b of cases(n[1]!)) pairs[(a << 8) | b] = 1;
    for (const a of cases(n[1]!)) for (const b of cases(n[2]!)) pairs2[(a << 8) | b] = 1;
  }
  return { cls, table, stride, outputs, lengths: needles.map((n) => n.length), pairs, pairs2 };
}
