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
//     host's resolver, or
//   - an arrival carries a planted secret or the real credential, in any
//     encoding the catalogue uses (raw, base64, hex, percent, gzip, a DNS
//     label), or a 12-character piece of one, or
//   - the attacker was answered with success and nothing was recorded
//     (something we do not watch answered).
// Everything else, for an attack that ran, is blocked. Attacks whose judge
// reads no gate audit (the sealed network, the credential search, the echo,
// the controls) keep the suite's own judge. What a peer cannot have is n/a.

export type PeerVerdict = Verdict & { na?: string };

// Categories and layers a peer has no counterpart for: n/a with the reason,
// never counted as blocked.
export function notApplicable(a: Pick<Attack, "id" | "expected">): string | null {
  if (a.expected === "git-scan") return "no git gate: a remote is an allowed host like any other (pushes to one are category 3's POSTs)";
  if (a.expected === "fail-closed") return "no gate process to kill: the proxy lives in the srt process itself";
  return null;
}

const SUITE_JUDGED = new Set(["sealed-network", "credential-isolation"]);

export function judgePeer(a: Attack, ev: Evidence, ctx: AttackContext, overflowed = false): PeerVerdict {
  const na = notApplicable(a);
  if (na) return { blocked: false, layer: null, detail: na, na };
  const why = notRun(ev, ctx);
  if (why) return { blocked: false, layer: null, detail: why, ran: false };
  if (overflowed) return { blocked: false, layer: null, detail: "a receiver got more than it can hold: evidence incomplete" };
  // The suite's judges that need no gate audit: the sandbox's own network,
  // the credential search, the echo of the credential, the controls.
  if (SUITE_JUDGED.has(a.expected) || a.id.startsWith("9.credential-echo") || a.category === 0) return a.judge(ev, ctx);
  if (a.expected === "sealed-fs") return judgeSocketPeer(ev);
  return judgeDoorPeer(a, ev, ctx);
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
    if (framing && !TLS_HANDSHAKE.test(x.text)) leaks.push(arrivalSummary([x]));
    else if (!allowedArrival(x, ctx)) leaks.push(arrivalSummary([x]));
  }
  if (leaks.length > 0) return { blocked: false, layer: null, detail: leaks[0]! + (leaks.length > 1 ? ` (+${leaks.length - 1} more)` : "") };
  const out = ev.exec.stdout;
  const st = curlStatus(out);
  const raw = out.match(/^STATUS (\w+)/m)?.[1];
  const answered = (st !== null && st.rc === 0 && st.http >= 200 && st.http < 400) || (raw !== undefined && /^[23]\d\d$/.test(raw));
  const reached = ev.arrivals.length > 0;
  if (answered && !reached) return { blocked: false, layer: null, detail: `answered (${firstLine(out)}) and nothing was recorded: something we do not watch answered` };
  if (reached) return { blocked: true, layer: null, detail: `only what the policy allows arrived, with no secret (${firstLine(out)})` };
  return { blocked: true, layer: null, detail: `nothing arrived; ${firstLine(out)}` };
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

// Does `text` carry `value`, in any encoding the catalogue sends it in?
export function carries(text: string, value: string): boolean {
  const hay = [text, ...gunzipped(text)];
  const v = Buffer.from(value);
  const hex = v.toString("hex");
  const forms = [
    value,
    v.toString("base64"),
    v.toString("base64url"),
    hex,
    hex.replace(/(..)/g, "%$1"),
    value.replace(/[^a-zA-Z0-9]/g, "x").slice(0, 60), // a DNS label (attacks/gate.ts 4.crafted-subdomain)
  ].map((f) => f.toLowerCase());
  // A piece of the raw value is enough: nobody sends 12 of its characters
  // in a row by chance.
  const pieces: string[] = [];
  for (let i = 0; i + 12 <= value.length; i++) pieces.push(value.slice(i, i + 12).toLowerCase());
  return hay.some((h) => {
    const l = h.toLowerCase();
    return forms.some((f) => l.includes(f)) || pieces.some((p) => l.includes(p));
  });
}

// Bodies that are gzip by their magic bytes, inflated (3.body-gzip). A
// recorded body ends in a newline after the member: sync flush reads what
// is there instead of failing on it.
export function gunzipped(text: string): string[] {
  const out: string[] = [];
  for (let i = text.indexOf("\x1f\x8b\x08"); i >= 0; i = text.indexOf("\x1f\x8b\x08", i + 1)) {
    try {
      out.push(gunzipSync(Buffer.from(text.slice(i), "latin1"), { finishFlush: constants.Z_SYNC_FLUSH }).toString("latin1"));
    } catch {
      // not gzip after all
    }
  }
  return out;
}
