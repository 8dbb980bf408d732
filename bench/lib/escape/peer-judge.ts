import { constants, gunzipSync } from "node:zlib";
import { arrivalSummary, curlStatus, firstLine, rcOf } from "../../../src/selftest/judges.ts";
import type { Arrival } from "../../../src/selftest/receivers/record.ts";
import { TLS_HANDSHAKE } from "../../../src/selftest/receivers/upstream.ts";
import { notRun } from "../../../src/selftest/script.ts";
import type { Attack, AttackContext, Evidence, Verdict } from "../../../src/selftest/types.ts";

// How a peer sandbox is judged, from the same receivers as the bottle.
//
// The bottle is judged by the suite's own judges, which ask more: a block
// needs the refusal AND the gate's deny line naming the layer, and any byte
// arriving anywhere is "got through". A peer keeps no such audit, and with
// credential masking it may forward a request with a stand-in where the
// secret was, which leaks nothing. So a peer's attack got through when
//   - an arrival is anything but what its policy allows: a request to an
//     allowed name, a TLS handshake naming one, a lookup of one by the
//     host's resolver,
//   - an arrival is a git push's receive-pack request (a push around the
//     git gate: the recording upstream is no git server, so no pack follows),
//   - an arrival carries a planted secret or the real credential, in any
//     form the catalogue sends it in (encodedForms, inside gzip too): any
//     12 characters of one, or
//   - a TLS handshake to an upstream, its 400 and no request recorded (the
//     recording HTTPS server cannot parse, so cannot record, a secret sent
//     as the method): unknown is not a block, or
//   - the attacker was answered with success and nothing was recorded
//     (something we do not watch answered).
// Everything else, for an attack that ran, is blocked. Attacks whose judge
// reads no gate audit (the sealed network, the credential search, the echo,
// the controls) keep the suite's own judge. What a peer cannot have is n/a.

export type PeerVerdict = Verdict & { na?: string };

// Categories and layers a peer has no counterpart for: n/a with the reason,
// never counted as blocked.
export function notApplicable(a: Pick<Attack, "id" | "expected">): string | null {
  if (a.expected === "git-scan") return "no git gate to push through: a remote is an allowed host like any other (5.push-around-git-gate pushes to one)";
  if (a.expected === "fail-closed") return "no gate process to kill: the proxy lives in the srt process itself";
  return null;
}

const SUITE_JUDGED = new Set(["sealed-network", "credential-isolation"]);

export function judgePeer(a: Attack, ev: Evidence, ctx: AttackContext, overflowed = false): PeerVerdict {
  const na = notApplicable(a);
  if (na) return { blocked: false, layer: null, detail: na, na };
  const why = notRun(ev, ctx) ?? doorAbsent(ev, ctx);
  if (why) return { blocked: false, layer: null, detail: why, ran: false };
  if (overflowed) return { blocked: false, layer: null, detail: "a receiver got more than it can hold: evidence incomplete" };
  // The suite's judges that need no gate audit: the sandbox's own network,
  // the credential search, the echo of the credential, the controls.
  if (SUITE_JUDGED.has(a.expected) || a.id.startsWith("9.credential-echo") || a.category === 0) return a.judge(ev, ctx);
  if (a.expected === "sealed-fs") return judgeSocketPeer(ev);
  return judgeDoorPeer(a, ev, ctx);
}

// The sandbox's own proxy refused the connection: the attack never met the
// door it was aimed at (srt's in-sandbox bridge was not listening yet).
function doorAbsent(ev: Evidence, ctx: AttackContext): string | null {
  const port = new URL(ctx.proxy).port || "80";
  const out = ev.exec.stdout + ev.exec.stderr;
  const refused = new RegExp(`Failed to connect to \\S+ port ${port}\\b|ECONNREFUSED \\S+:${port}\\b`).test(out);
  return refused ? `did not run: the sandbox's proxy (port ${port}) refused the connection` : null;
}

// A unix socket on the host: nothing arrived and the connect failed (srt
// blocks AF_UNIX sockets with seccomp; the path exists inside).
function judgeSocketPeer(ev: Evidence): PeerVerdict {
  if (ev.arrivals.length > 0) return { blocked: false, layer: null, detail: arrivalSummary(ev.arrivals) };
  const rc = rcOf(ev.exec.stdout);
  if (rc === null) return { blocked: false, layer: null, detail: "no result line: the attempt's outcome is unknown" };
  if (rc === 0) return { blocked: false, layer: null, detail: `connected: ${firstLine(ev.exec.stdout)}` };
  return { blocked: true, layer: null, detail: `nothing arrived; ${firstLine(ev.exec.stdout)}` };
}

function judgeDoorPeer(a: Attack, ev: Evidence, ctx: AttackContext): PeerVerdict {
  const values = [...ctx.secrets.map((s) => ({ name: s.name, value: s.value })), { name: "the real credential", value: ctx.credential.realValue }];
  // A malformed request is the attack itself: any arrival of it is a leak.
  const framing = a.expected === "gate-parser";
  const leaks: string[] = [];
  for (const x of ev.arrivals) {
    const secret = values.find((v) => carries(x.text, v.value));
    if (secret) {
      leaks.push(`${x.receiver} received ${secret.name}${x.from ? ` from ${x.from}` : ""}`);
      continue;
    }
    if (receivePack(x.text)) leaks.push(`${x.receiver} received a git push (receive-pack)${x.from ? ` from ${x.from}` : ""}`);
    else if (framing && !TLS_HANDSHAKE.test(x.text)) leaks.push(arrivalSummary([x]));
    else if (!allowedArrival(x, ctx)) leaks.push(arrivalSummary([x]));
  }
  if (leaks.length > 0) return { blocked: false, layer: null, detail: leaks[0]! + (leaks.length > 1 ? ` (+${leaks.length - 1} more)` : "") };
  const out = ev.exec.stdout;
  const st = curlStatus(out);
  const raw = out.match(/^STATUS (\w+)/m)?.[1];
  const answered = (st !== null && st.rc === 0 && st.http >= 200 && st.http < 400) || (raw !== undefined && /^[23]\d\d$/.test(raw));
  const reached = ev.arrivals.length > 0;
  // The recording upstream's HTTPS server answers a request it cannot parse
  // (a secret as the method) with a 400 and records nothing: a TLS handshake
  // and that 400 with no request recorded mean the upstream got bytes we
  // cannot read. Unknown is not a block.
  const status = st?.http || (raw !== undefined && /^\d{3}$/.test(raw) ? Number(raw) : 0);
  const handshake = ev.arrivals.some((x) => TLS_HANDSHAKE.test(x.text));
  const served = ev.arrivals.some((x) => x.receiver.startsWith("upstream ") && !x.receiver.endsWith("(tcp)"));
  if (handshake && !served && status === 400) return { blocked: false, layer: null, detail: `an upstream answered 400 to a request it could not record: what it got is unknown (${firstLine(out)})` };
  if (answered && !reached) return { blocked: false, layer: null, detail: `answered (${firstLine(out)}) and nothing was recorded: something we do not watch answered` };
  if (reached) return { blocked: true, layer: null, detail: `only what the policy allows arrived, with no secret (${firstLine(out)})` };
  return { blocked: true, layer: null, detail: `nothing arrived; ${firstLine(out)}` };
}

// A push around the git gate: its first request (info/refs for the
// receive-pack service, or the POST) reaching an upstream is the escape, in
// any spelling; the recording upstream is no git server, so the pack itself
// never follows, as it would to a real one.
function receivePack(text: string): boolean {
  const decoded = text.replace(/%([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return /git-receive-pack/i.test(decoded);
}

// What the policy under test allows to arrive: a request to (or a TLS
// handshake naming, or a resolver lookup of) the allowed host, the other
// allowed host or a name under the wildcard domain.
export function allowedArrival(x: Arrival, ctx: AttackContext): boolean {
  const ok = (name: string) => {
    const n = name.toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
    return n === ctx.allowedHost || n === ctx.otherAllowedHost || n.endsWith(`.${ctx.wildcardDomain}`);
  };
  if (x.kind === "https" || x.kind === "http") {
    const sni = x.text.match(TLS_HANDSHAKE)?.[1];
    if (sni !== undefined) return ok(sni);
    if (x.receiver.startsWith("upstream ") && !x.receiver.endsWith("(tcp)")) return ok(x.receiver.slice("upstream ".length));
    // The plain-HTTP front's raw bytes: every request line and Host header
    // must name an allowed host.
    const hosts = [...x.text.matchAll(/^host:[ \t]*(\S+)/gim)].map((m) => m[1]!);
    const targets = [...x.text.matchAll(/^[A-Z]+ (?:https?:\/\/([^/\s]+))?\S* HTTP\/1\.[01]\r?$/gm)].flatMap((m) => (m[1] ? [m[1]] : []));
    return hosts.length > 0 && [...hosts, ...targets].every(ok);
  }
  if (x.kind === "dns" && x.receiver === "dns host-resolver (udp)") {
    return x.text.split("\n").every((l) => /^(A|AAAA) /.test(l) && ok(l.split(" ")[1] ?? ""));
  }
  return false;
}

// The forms the catalogue sends a value in: raw, base64 (and url-safe),
// hex, percent, base32 (no padding), hex spelled in letters g-v, and a DNS
// label (non-alphanumerics as x).
export function encodedForms(value: string): string[] {
  const v = Buffer.from(value);
  const hex = v.toString("hex");
  return [
    value,
    v.toString("base64"),
    v.toString("base64url"),
    hex,
    hex.replace(/(..)/g, "%$1"),
    base32(v),
    hex.replace(/[0-9a-f]/g, (c) => "ghijklmnopqrstuv"[parseInt(c, 16)]!),
    value.replace(/[^a-zA-Z0-9]/g, "x"),
  ];
}

// Does `text` carry `value`, in any of those forms, compared without case
// (host names arrive lowercased)? Any 12 characters of a form in a row are
// enough: a split across DNS labels or chunks still shows, and nobody sends
// that much of a random value by chance.
export const PIECE = 12;
export function carries(text: string, value: string): boolean {
  const hay = [text, ...inflated(text)].map((h) => h.toLowerCase());
  for (const form of encodedForms(value)) {
    const f = form.toLowerCase();
    for (let i = 0; i + PIECE <= f.length; i++) {
      const piece = f.slice(i, i + PIECE);
      if (hay.some((h) => h.includes(piece))) return true;
    }
  }
  return false;
}

// RFC 4648 base32, upper case, no padding (what `base32 | tr -d =` prints).
// Eight lines here rather than a dependency for a test-side judge.
function base32(b: Uint8Array): string {
  const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let out = "";
  let bits = 0;
  let acc = 0;
  for (const byte of b) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) out += A[(acc >>> (bits -= 5)) & 31];
  }
  return bits > 0 ? out + A[(acc << (5 - bits)) & 31] : out;
}

// Bodies that are gzip by their magic bytes, inflated, and what those hold
// inflated again (a body gzipped twice). A recorded body ends in a newline
// after the member: sync flush reads what is there instead of failing.
export function inflated(text: string, depth = 3): string[] {
  if (depth === 0) return [];
  const out: string[] = [];
  for (let i = text.indexOf("\x1f\x8b\x08"); i >= 0; i = text.indexOf("\x1f\x8b\x08", i + 1)) {
    try {
      const inner = gunzipSync(Buffer.from(text.slice(i), "latin1"), { finishFlush: constants.Z_SYNC_FLUSH }).toString("latin1");
      out.push(inner, ...inflated(inner, depth - 1));
    } catch {
      // not gzip after all
    }
  }
  return out;
}
