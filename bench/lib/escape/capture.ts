import { deflateRawSync, gzipSync } from "node:zlib";
import type { AttackContext, Evidence } from "../../../src/selftest/types.ts";
import { encodedForms, inflated } from "./peer-judge.ts";
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


// Distinct per name in every 12 characters (the judge matches pieces that
// long), and shaped like no token.
export function standIn(name: string, value: string): string {
  const hash = new Bun.CryptoHasher("sha256").update(name).digest("hex");
  return ("planted-" + hash.repeat(4)).slice(0, value.length);
}

export function redactor(ctx: AttackContext): (s: string) => string {
  const values = [...ctx.secrets, { name: "credential", value: ctx.credential.realValue }];
  const forms: [string, string][] = [];
  for (const s of values) {
    const [from, to] = [encodedForms(s.value), encodedForms(standIn(s.name, s.value))];
    from.forEach((x, i) => forms.push([x, to[i]!]));
  }
  // Every run of 8 or more characters of a form, wherever it stands (a form
  // split across DNS labels, a credential streamed back in halves), becomes
  // the stand-in's characters at the same offsets; compared without case
  // (host names reach the receivers lowercased).
  const plain = (t: string): string => {
    if (t.length < 8) return t;
    const lower = t.toLowerCase();
    const out = t.split("");
    const done: boolean[] = [];
    // Forms in encodedForms' order: raw first, so a run the raw value and
    // its DNS-label spelling share is written as the raw stand-in.
    for (const [from, to] of forms) {
      const f = from.toLowerCase();
      for (let i = 0; i + 8 <= f.length; i++) {
        for (let at = lower.indexOf(f.slice(i, i + 8)); at >= 0; at = lower.indexOf(f.slice(i, i + 8), at + 1)) {
          for (let k = 0; i + k < f.length && at + k < t.length && lower[at + k] === f[i + k]; k++) {
            if (done[at + k]) continue;
            done[at + k] = true;
            // As the form has it where the text has the form's case, else lowercased.
            out[at + k] = t[at + k] === from[i + k] ? to[i + k]! : to[i + k]!.toLowerCase();
          }
        }
      }
    }
    return out.join("");
  };
  // A gzip body is redacted inside, and recompressed (twice, if twice).
  const text = (t: string, outer: boolean): string => {
    const at = t.indexOf("\x1f\x8b\x08");
    const inner = at < 0 ? undefined : inflated(t, 1)[0];
    if (inner === undefined) return plain(t);
    return plain(t.slice(0, at)) + regzip(t.slice(at), text(inner, false), plain) + (outer ? "\n" : "");
  };
  return (t) => text(t, true);
}

// The member again around the redacted content, keeping its header (a
// secret in the file name field stays where it was, redacted in place).
function regzip(member: string, content: string, plain: (s: string) => string): string {
  const b = Buffer.from(member, "latin1");
  const flg = b[3]!;
  let pos = 10;
  if (flg & 4) pos += 2 + (b[pos]! | (b[pos + 1]! << 8));
  if (flg & 8) pos = b.indexOf(0, pos) + 1;
  if (flg & 16) pos = b.indexOf(0, pos) + 1;
  if (flg & 2 || pos <= 0) return gzipSync(Buffer.from(content, "latin1")).toString("latin1");
  const data = Buffer.from(content, "latin1");
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(Bun.hash.crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length >>> 0, 4);
  return plain(b.subarray(0, pos).toString("latin1")) + Buffer.concat([deflateRawSync(data), trailer]).toString("latin1");
}

export function redact<T>(x: T, r: (s: string) => string): T {
  return JSON.parse(JSON.stringify(x), (_k, v) => (typeof v === "string" ? r(v) : v)) as T;
}
