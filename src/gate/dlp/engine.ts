import { buildAutomaton, type Automaton } from "./automaton.ts";
import { RULES, type Rule } from "./rules.ts";
import { secretVariants } from "./variants.ts";

// The matching engine: one automaton over all rule anchors and all secret
// variants, plus the verification step for each hit. Used whole for URLs
// and headers (scanComplete) and incrementally for bodies (StreamMatcher).

// Literal prefix of a secret variant that goes into the automaton; the rest
// is compared at verification. Long enough to make chance hits rare, short
// enough to keep the automaton small when there are many secrets.
const PREFIX = 16;

export interface Literal {
  finding: string; // "secret:NAME" | "placeholder:NAME"
  bytes: Uint8Array;
  text: string; // latin1 view of bytes, for the secret-over-rule preference
}

type Target = { kind: "lit"; lit: Literal } | { kind: "rule"; rule: Rule };

interface Needle {
  bytes: Uint8Array;
  targets: Target[];
}

export interface Matcher {
  auto: Automaton;
  // needle id -> targets
  targets: Target[][];
  // Case-insensitive matcher (used for host names, which are lowercased).
  ci: boolean;
  literals: Literal[];
  // The most bytes any verification reads from a needle's start.
  maxWindow: number;
}

const PENDING = 1;
type Verdict = string | null | typeof PENDING;

const latin1 = (b: Uint8Array): string => String.fromCharCode.apply(null, b as unknown as number[]);

export function collectLiterals(
  secrets: { name: string; value: string }[],
  placeholders: { name: string; value: string }[],
): Literal[] {
  const out: Literal[] = [];
  const add = (prefix: string, list: { name: string; value: string }[]): void => {
    for (const { name, value } of list) {
      for (const v of secretVariants(value)) {
        out.push({ finding: `${prefix}:${name}`, bytes: v.bytes, text: latin1(v.bytes) });
      }
    }
  };
  // Placeholders first: when the same value is both (it should not be),
  // naming the placeholder is the more useful report.
  add("placeholder", placeholders);
  add("secret", secrets);
  return out;
}

// withRules false: the literals alone (no built-in token shapes).
export function buildMatcher(literals: Literal[], ci: boolean, withRules = true): Matcher {
  const byKey = new Map<string, Needle>();
  const key = (b: Uint8Array): string => (ci ? latin1(b).toLowerCase() : latin1(b));
  const addNeedle = (bytes: Uint8Array, t: Target): void => {
    const k = key(bytes);
    let n = byKey.get(k);
    if (!n) {
      n = { bytes, targets: [] };
      byKey.set(k, n);
    }
    n.targets.push(t);
  };
  let maxWindow = 0;
  for (const lit of literals) {
    addNeedle(lit.bytes.subarray(0, PREFIX), { kind: "lit", lit });
    maxWindow = Math.max(maxWindow, lit.bytes.length);
  }
  for (const rule of withRules ? RULES : []) {
    for (const a of rule.anchors) addNeedle(new TextEncoder().encode(a), { kind: "rule", rule });
    maxWindow = Math.max(maxWindow, rule.window);
  }
  const needles = [...byKey.values()];
  // Literal targets before rule targets on a shared needle, so a value that
  // is also a token shape is reported by name.
  for (const n of needles) n.targets.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "lit" ? -1 : 1));
  return {
    auto: buildAutomaton(
      needles.map((n) => n.bytes),
      ci,
    ),
    targets: needles.map((n) => n.targets),
    ci,
    literals,
    maxWindow,
  };
}

const isAlnum = (b: number): boolean =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
// [A-Za-z0-9._+/=-]
const TOKEN_BYTE = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+/=-") TOKEN_BYTE[c.charCodeAt(0)] = 1;
const MIN_RUN = 13;
const isTokenByte = (b: number): boolean => TOKEN_BYTE[b] === 1;
const fold = (b: number): number => (b >= 0x41 && b <= 0x5a ? b + 32 : b);

// Checks one target whose needle starts at data[start]. `avail` is the end
// of the data seen so far; `final` says no more data will come.
function verify(m: Matcher, t: Target, data: Uint8Array, start: number, avail: number, final: boolean): Verdict {
  if (t.kind === "lit") {
    const want = t.lit.bytes;
    if (start + want.length > avail) return final ? null : PENDING;
    if (m.ci) {
      for (let j = 0; j < want.length; j++) if (fold(data[start + j]!) !== fold(want[j]!)) return null;
    } else {
      for (let j = 0; j < want.length; j++) if (data[start + j] !== want[j]) return null;
    }
    return t.lit.finding;
  }
  const rule = t.rule;
  if (rule.leftBoundary && start > 0 && isAlnum(data[start - 1]!)) return null;
  let end = Math.min(avail, start + rule.window);
  let complete = final || end === start + rule.window;
  if (rule.contiguous) {
    let j = start;
    while (j < end && isTokenByte(data[j]!)) j++;
    if (j < end) {
      // No contiguous rule matches fewer than MIN_RUN bytes (anchor + at
      // least 10): most chance anchors in code ("ghp_" in a list of
      // prefixes) stop here, before any string is built.
      if (j - start < MIN_RUN) return null;
      // The run ends inside the data we have: nothing later can change the
      // outcome. Keep the byte after the run for trailing lookaheads.
      end = j + 1;
      complete = true;
    }
  }
  if (rule.head) {
    const headEnd = Math.min(end, start + HEAD);
    const re = m.ci ? ciRegex(rule.head) : rule.head;
    re.lastIndex = 0;
    if (!re.test(latin1(data.subarray(start, headEnd)))) {
      if (final || complete || headEnd === start + HEAD) return null;
      return PENDING;
    }
  }
  const s = latin1(data.subarray(start, end));
  const re = m.ci ? ciRegex(rule.re) : rule.re;
  re.lastIndex = 0;
  const hit = re.exec(s);
  if (!hit) return complete ? null : PENDING;
  // A match that runs to the end of partial data may depend on bytes not
  // seen yet (a trailing lookahead): wait for them.
  if (!complete && hit[0].length >= s.length) return PENDING;
  if (rule.check && !rule.check(hit[0])) return null;
  return preferLiteral(m, hit[0]) ?? rule.name;
}

// A placeholder looks like the token it stands for (same prefix and length
// class), so a token rule fires on it too; naming the placeholder is the
// more useful report.
function preferLiteral(m: Matcher, matched: string): string | null {
  const x = m.ci ? matched.toLowerCase() : matched;
  for (const lit of m.literals) {
    const t = m.ci ? lit.text.toLowerCase() : lit.text;
    if (t.includes(x) || x.includes(t)) return lit.finding;
  }
  return null;
}

const ciCache = new WeakMap<RegExp, RegExp>();
function ciRegex(base: RegExp): RegExp {
  let re = ciCache.get(base);
  if (!re) {
    re = new RegExp(base.source, base.flags.includes("i") ? base.flags : base.flags + "i");
    ciCache.set(base, re);
  }
  return re;
}

const HEAD = 64;

// Scans a complete input (URL part, header). Returns the finding's rule name
// or null.
export function scanComplete(m: Matcher, data: Uint8Array): string | null {
  const { cls, table, outputs, lengths, stride, pairs, pairs2 } = m.auto;
  const n = data.length;
  let s = 0;
  let i = 0;
  while (i < n) {
    if (s === 0) {
      // Root state: skip positions that cannot start a needle.
      while (
        i < n - 2 &&
        (pairs[(data[i]! << 8) | data[i + 1]!] === 0 || pairs2[(data[i + 1]! << 8) | data[i + 2]!] === 0)
      )
        i++;
    }
    let t = table[s + cls[data[i]!]!]!;
    if (t < 0) {
      t = ~t;
      for (const id of outputs[t / stride]!) {
        const start = i - lengths[id]! + 1;
        for (const target of m.targets[id]!) {
          const v = verify(m, target, data, start, n, true);
          if (typeof v === "string") return v;
        }
      }
    }
    s = t;
    i++;
  }
  return null;
}

// Largest piece of a chunk processed at once: bounds the scratch buffer
// whatever chunk sizes the caller pushes.
const SLICE = 64 * 1024;

// Incremental scanning of a byte stream. Keeps the last `keep` bytes of the
// stream so that a needle or a rule window crossing a chunk boundary is
// still seen whole; hits whose window is not complete yet wait in `pending`
// until more data (or the end) arrives. Memory: one slice plus the overlap.
export class StreamMatcher {
  private state = 0;
  private scratch: Uint8Array;
  private tailLen = 0;
  // Absolute stream offset of scratch[0].
  private base = 0;
  private pending: { start: number; target: Target }[] = [];
  private readonly keep: number;

  constructor(private readonly m: Matcher) {
    // +32: the longest anchor/prefix before the window, +1 for the
    // left-boundary byte.
    this.keep = m.maxWindow + 64;
    this.scratch = new Uint8Array(this.keep + SLICE);
  }

  push(chunk: Uint8Array): string | null {
    for (let off = 0; off < chunk.length; off += SLICE) {
      const f = this.pushSlice(chunk.subarray(off, Math.min(chunk.length, off + SLICE)));
      if (f) return f;
    }
    return null;
  }

  end(): string | null {
    const avail = this.tailLen;
    for (const p of this.pending) {
      const v = verify(this.m, p.target, this.scratch, p.start - this.base, avail, true);
      if (typeof v === "string") return v;
    }
    this.pending = [];
    return null;
  }

  private pushSlice(piece: Uint8Array): string | null {
    const buf = this.scratch;
    const from = this.tailLen;
    buf.set(piece, from);
    const avail = from + piece.length;

    if (this.pending.length > 0) {
      const still: { start: number; target: Target }[] = [];
      for (const p of this.pending) {
        const v = verify(this.m, p.target, buf, p.start - this.base, avail, false);
        if (v === PENDING) still.push(p);
        else if (v !== null) return v;
      }
      this.pending = still;
    }

    const { cls, table, outputs, lengths, stride, pairs, pairs2 } = this.m.auto;
    let s = this.state;
    let i = from;
    while (i < avail) {
      if (s === 0) {
        // Root state: skip positions that cannot start a needle. The last
        // two bytes of the slice always go through the table (what follows
        // them is not known yet), which keeps the state exact across slices.
        while (
          i < avail - 2 &&
          (pairs[(buf[i]! << 8) | buf[i + 1]!] === 0 || pairs2[(buf[i + 1]! << 8) | buf[i + 2]!] === 0)
        )
          i++;
      }
      let t = table[s + cls[buf[i]!]!]!;
      if (t < 0) {
        t = ~t;
        const f = this.hit(t / stride, i, avail, outputs, lengths);
        if (f) return f;
      }
      s = t;
      i++;
    }
    this.state = s;

    // Keep the overlap for the next slice.
    const keepFrom = Math.max(0, avail - this.keep);
    if (keepFrom > 0) buf.copyWithin(0, keepFrom, avail);
    this.base += keepFrom;
    this.tailLen = avail - keepFrom;
    return null;
  }

  private hit(
    state: number,
    i: number,
    avail: number,
    outputs: ReadonlyArray<readonly number[]>,
    lengths: readonly number[],
  ): string | null {
    for (const id of outputs[state]!) {
      const start = i - lengths[id]! + 1;
      for (const target of this.m.targets[id]!) {
        const v = verify(this.m, target, this.scratch, start, avail, false);
        if (v === PENDING) {
          // Bounded: every pending hit resolves once `keep` more bytes
          // have arrived, and at most a few can start per byte.
          this.pending.push({ start: start + this.base, target });
        } else if (v !== null) return v;
      }
    }
    return null;
  }
}
