// The response guard's text view (guard-text.ts) matches credential values
// character by character in many channels at once: one Aho-Corasick DFA,
// shared, with a state per channel. Not DLP's automaton (dlp/automaton.ts):
// that one reports matches only, and the guard needs each state's depth
// (which trailing characters are still pending) and what of them to hold.

export interface TextNeedle {
  value: string;
  // Same length as value: what the bottle is shown instead.
  replacement: string;
}

// A small Aho-Corasick DFA over byte-valued characters (credentials are
// ASCII; a character above 255 never matches).
export class Automaton {
  readonly next: Int32Array;
  readonly depth: Int32Array;
  // needle index ending at each state (the longest), or -1.
  readonly out: Int32Array;
  // How many of the last characters must be held back in this state: the
  // ones whose stand-in differs from the value for some credential they
  // could still become (a placeholder keeps the real value's prefix,
  // `sk-ant-api03-`, so a text delta ending in "sk-" need not wait).
  readonly hold: Int32Array;
  // 1 for every byte a credential starts with.
  readonly starts = new Uint8Array(256);

  constructor(needles: readonly TextNeedle[]) {
    const trie: Map<number, number>[] = [new Map()];
    const depth = [0];
    const out = [-1];
    // Per state: the first position, among credentials through it, whose
    // stand-in differs (capped at the state's depth).
    const differs = [0];
    needles.forEach((needle, idx) => {
      const n = needle.value;
      if (n.length > 0) this.starts[n.charCodeAt(0) & 0xff] = 1;
      let first = 0;
      while (first < n.length && needle.replacement[first] === n[first]) first++;
      let s = 0;
      for (let i = 0; i < n.length; i++) {
        const c = n.charCodeAt(i) & 0xff;
        let t = trie[s]!.get(c);
        if (t === undefined) {
          t = trie.length;
          trie.push(new Map());
          depth.push(depth[s]! + 1);
          out.push(-1);
          differs.push(depth[s]! + 1);
          trie[s]!.set(c, t);
        }
        s = t;
        differs[s] = Math.min(differs[s]!, first);
      }
      if (out[s] === -1 || needles[out[s]!]!.value.length < n.length) out[s] = idx;
    });
    const n = trie.length;
    this.next = new Int32Array(n * 256);
    this.depth = Int32Array.from(depth);
    this.out = Int32Array.from(out);
    this.hold = new Int32Array(n);
    const fail = new Int32Array(n);
    const queue: number[] = [];
    for (let c = 0; c < 256; c++) {
      const t = trie[0]!.get(c);
      this.next[c] = t ?? 0;
      if (t !== undefined) queue.push(t);
    }
    while (queue.length > 0) {
      const s = queue.shift()!;
      // A needle that ends inside a longer one's path (its suffix) is an
      // output here too; a shorter candidate (the fail chain) may need
      // more of the tail held than this state's own.
      if (this.out[s] === -1 && this.out[fail[s]!]! !== -1) this.out[s] = this.out[fail[s]!]!;
      this.hold[s] = Math.max(depth[s]! - differs[s]!, this.hold[fail[s]!]!);
      for (let c = 0; c < 256; c++) {
        const t = trie[s]!.get(c);
        if (t !== undefined) {
          fail[t] = this.next[fail[s]! * 256 + c]!;
          this.next[s * 256 + c] = t;
          queue.push(t);
        } else {
          this.next[s * 256 + c] = this.next[fail[s]! * 256 + c]!;
        }
      }
    }
  }
}
