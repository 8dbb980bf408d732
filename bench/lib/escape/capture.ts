import { gzipSync } from "node:zlib";
import type { AttackContext, Evidence } from "../../../src/selftest/types.ts";
import { gunzipped } from "./peer-judge.ts";
import type { Side } from "./report.ts";

// `bun run bench:escape -- --capture <file>`: what the real srt printed and
// what the receivers recorded, per attack and side, so the peer judge is
// unit-tested on real output (test/unit/bench/escape-judge.test.ts).
//
// The planted values are random but token-shaped, and secret scanners do
// not know that: every value is replaced by a stand-in of the same length
// that is not token-shaped, in every encoding the judge reads (raw, base64,
// hex, percent, DNS label, and inside gzip bodies, recompressed), so the
// fixture judges exactly as the run did.

export interface CapturedCase {
  id: string;
  side: Exclude<Side, "bottle">;
  evidence: Evidence;
  verdict: { blocked: boolean; na?: string; ran?: false; detail: string };
}

export interface PeerFixture {
  captured: string;
  peer: string; // "srt 0.0.78 on bubblewrap 0.8.0"
  ctx: Record<Exclude<Side, "bottle">, AttackContext>;
  cases: CapturedCase[];
}

const encodings = (v: string): string[] => {
  const b = Buffer.from(v);
  const hex = b.toString("hex");
  return [v, b.toString("base64"), b.toString("base64url"), hex, hex.replace(/(..)/g, "%$1"), v.replace(/[^a-zA-Z0-9]/g, "x").slice(0, 60)];
};

// Distinct per name in every 12 characters (the judge matches pieces that
// long), and shaped like no token.
export function standIn(name: string, value: string): string {
  const hash = new Bun.CryptoHasher("sha256").update(name).digest("hex");
  return ("planted-" + hash.repeat(4)).slice(0, value.length);
}

export function redactor(ctx: AttackContext): (s: string) => string {
  const values = [...ctx.secrets, { name: "credential", value: ctx.credential.realValue }];
  const pairs: [string, string][] = [];
  for (const s of values) {
    const f = standIn(s.name, s.value);
    const [from, to] = [encodings(s.value), encodings(f)];
    // Host names reach the receivers lowercased (a label under the wildcard).
    from.forEach((x, i) => pairs.push([x, to[i]!], [x.toLowerCase(), to[i]!.toLowerCase()]));
  }
  const plain = (t: string) => pairs.reduce((acc, [from, to]) => acc.split(from).join(to), t);
  return (t) => {
    const at = t.indexOf("\x1f\x8b\x08");
    if (at < 0) return plain(t);
    const inner = gunzipped(t)[0];
    if (inner === undefined) return plain(t);
    return plain(t.slice(0, at)) + gzipSync(Buffer.from(plain(inner), "latin1")).toString("latin1") + "\n";
  };
}

export function redact<T>(x: T, r: (s: string) => string): T {
  return JSON.parse(JSON.stringify(x), (_k, v) => (typeof v === "string" ? r(v) : v)) as T;
}
