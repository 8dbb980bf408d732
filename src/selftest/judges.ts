import type { AuditRecord } from "../gate/types.ts";
import type { Arrival } from "./receivers/record.ts";
import { TLS_HANDSHAKE } from "./receivers/upstream.ts";
import type { AttackContext, Evidence, Layer, Verdict } from "./types.ts";

// The judges: pure functions from Evidence (what the attacker printed, its
// exit codes, what the host side recorded) to a Verdict. Each reads the
// receiving side first: an arrival at any receiver is "got through",
// whatever the attacker believes. Absence is only a block when the attacker
// shows the attempt failed for the reason the layer implies. Each is unit
// tested with output captured from the real tools (test/fixtures/selftest).

// The probe() line: "CURL=<curl exit> HTTP=<status or 000>".
export function curlStatus(out: string): { rc: number; http: number } | null {
  const m = [...out.matchAll(/^CURL=(\d+) HTTP=(\d+)/gm)].at(-1);
  return m ? { rc: Number(m[1]), http: Number(m[2]) } : null;
}

// The exit code of a body's tool, printed as "RC=<n>" right after it ran.
export function rcOf(out: string): number | null {
  const m = [...out.matchAll(/^RC=(\d+)$/gm)].at(-1);
  return m ? Number(m[1]) : null;
}

// Interfaces with an address, from the ifaces() section (`ip -o addr`).
// null when the section is missing: no proof either way.
export function interfacesOf(out: string): { name: string; addr: string }[] | null {
  const m = out.match(/^--- ip -o addr\n([\s\S]*?)^--- end ip$/m);
  if (!m) return null;
  return m[1]!
    .split("\n")
    .map((l) => l.match(/^\d+:\s+(\S+)\s+inet6?\s+(\S+)/))
    .filter((x): x is RegExpMatchArray => x !== null)
    .map((x) => ({ name: x[1]!, addr: x[2]! }));
}

export function firstLine(s: string): string {
  return s.trim().split("\n")[0]?.slice(0, 160) ?? "";
}

const through = (detail: string): Verdict => ({ blocked: false, layer: null, detail });

export function arrivalSummary(a: Arrival[]): string {
  // The parsed record says more than the raw front's "(connection)".
  const first = a.find((x) => !x.receiver.endsWith("(tcp)")) ?? a[0]!;
  const what = firstLine(first.text.replace(/^\(connection\)$/, "a connection"));
  return `${first.receiver} received ${what || `${first.bytes} bytes`}${first.from ? ` from ${first.from}` : ""}${a.length > 1 ? ` (+${a.length - 1} more)` : ""}`;
}

const AUDIT_LAYER: Record<AuditRecord["layer"], Layer> = {
  policy: "gate-policy",
  tls: "gate-policy",
  dlp: "gate-dlp",
  ssrf: "gate-ssrf",
  gate: "gate-parser",
  git: "git-scan",
  supervise: "gate-policy",
};

export function denyLayer(audit: AuditRecord[]): Layer | null {
  const deny = audit.filter((a) => a.decision === "deny").at(-1);
  return deny ? AUDIT_LAYER[deny.layer] : null;
}

// Blocked by the gate: nothing arrived anywhere, the attacker got a refusal
// (a 4xx/5xx status, a refused CONNECT, a TLS handshake cut), and the gate's
// audit has a deny line for it, which names the layer. Every target is a
// receiver, so a refusal with nothing arrived was made on the way; without a
// deny line it is a block by no known layer (a peer sandbox keeps no audit),
// which fails the selftest all the same.
//
// A TLS handshake to a host the policy allows, with no request after it, is
// not a leak: the gate dials while it scans the body (documented in
// src/gate/server.ts), the name is the gate's own choice, and the attacker
// can reach that host with clean requests anyway. Any request byte, any
// other name, is.
export function judgeGate(ev: Evidence, ctx: AttackContext): Verdict {
  const allowed = new Set([ctx.allowedHost, ctx.otherAllowedHost]);
  const handshakes = ev.arrivals.filter((a) => allowed.has(a.text.match(TLS_HANDSHAKE)?.[1] ?? ""));
  const arrivals = ev.arrivals.filter((a) => !handshakes.includes(a));
  if (arrivals.length > 0) return through(arrivalSummary(arrivals));
  const out = ev.exec.stdout;
  const st = curlStatus(out);
  const rawStatus = out.match(/^STATUS (\w+)/m)?.[1];
  const refused =
    (st !== null && st.http >= 400) ||
    (st !== null && st.rc !== 0 && /CONNECT tunnel failed, response [45]\d\d/.test(out)) ||
    (rawStatus !== undefined && rawStatus !== "none" && Number(rawStatus) >= 400) ||
    /^STATUS \d+ connect-refused/m.test(out) ||
    /^STATUS none tls-error/m.test(out);
  if (!refused) return through(`no refusal seen (${firstLine(out)})`);
  const layer = denyLayer(ev.audit);
  if (!layer) return { blocked: true, layer: null, detail: `refused (${firstLine(out)}), but no deny line in the audit` };
  const early = handshakes.length > 0 ? ` (a TLS handshake to ${handshakes[0]!.text.match(TLS_HANDSHAKE)![1]}, no request)` : "";
  return { blocked: true, layer, detail: `refused; audit layer ${layer}${early}` };
}

// Why a connection can fail with no network at all: no interface, no route,
// no source address (IPv6 with no address but none on lo: EADDRNOTAVAIL).
// "Connection refused" or a timeout are NOT this: something answered, or a
// route existed.
const UNREACHABLE = /network (is )?unreachable|no route to host|cannot assign requested address|address not available|address family not supported/i;

// Blocked by the sealed network: nothing arrived at any host receiver, the
// tool failed for want of a route, and the sandbox has no interface but lo.
// `needsError` false: the tool gives no reason (getent), its exit code must do.
export function judgeSealed(ev: Evidence, needsError = true): Verdict {
  if (ev.arrivals.length > 0) return through(arrivalSummary(ev.arrivals));
  const out = ev.exec.stdout;
  const rc = rcOf(out);
  const st = curlStatus(out);
  if (/^;; Got answer:|ANSWER SECTION|^CONNECTED host service/m.test(out)) return through(`got an answer: ${firstLine(out)}`);
  if (rc === 0) return through(`the tool succeeded (exit 0): ${firstLine(out) || "no output"}`);
  if (st && (st.rc === 0 || st.http > 0)) return through(`HTTP ${st.http}: ${firstLine(out)}`);
  if (rc === null && st === null) return through("no result line: the attempt's outcome is unknown");
  const ifaces = interfacesOf(out);
  if (ifaces === null) return through("no `ip -o addr` output: cannot tell whether the sandbox has a network");
  const open = ifaces.filter((i) => i.name !== "lo");
  if (open.length > 0) return through(`the sandbox has a network interface: ${open.map((i) => `${i.name} ${i.addr}`).join(", ")}`);
  const why = out.split("\n").find((l) => UNREACHABLE.test(l));
  if (needsError && !why) return through(`failed, but not for want of a route: ${firstLine(out)}`);
  return { blocked: true, layer: "sealed-network", detail: `${(why ?? `exit ${rc ?? st?.rc}`).trim().slice(0, 100)}; only lo` };
}

// A unix socket on the host: the path is not in the sandbox at all.
export function judgeHostSocket(ev: Evidence): Verdict {
  if (ev.arrivals.length > 0) return through(arrivalSummary(ev.arrivals));
  const out = ev.exec.stdout;
  const rc = rcOf(out);
  if (rc === 0 || /^CONNECTED host service/m.test(out)) return through(`connected: ${firstLine(out)}`);
  if (rc === null) return through("no result line: the attempt's outcome is unknown");
  const why = out.split("\n").find((l) => /no such file or directory/i.test(l));
  if (!why) return through(`failed, but the socket path exists in the sandbox: ${firstLine(out)}`);
  return { blocked: true, layer: "sealed-fs", detail: "the host's socket path does not exist in the sandbox" };
}

// A git push of a secret. The upstream's refs are a receiver (kind "git"):
// any change is a leak. A block is the push failing AND the gate's
// pre-receive hook writing a deny line (layer git) to the audit; the text
// git prints is the attacker's own account and decides nothing.
export function judgeGitPush(ev: Evidence): Verdict {
  if (ev.arrivals.length > 0) return through(arrivalSummary(ev.arrivals));
  const rc = rcOf(ev.exec.stdout);
  if (rc === null) return through("no result line from git push");
  if (rc === 0) return through("git push exited 0");
  const deny = ev.audit.filter((a) => a.decision === "deny" && a.layer === "git").at(-1);
  if (!deny) return { blocked: true, layer: denyLayer(ev.audit), detail: `push failed (exit ${rc}), but no git deny line in the audit` };
  return { blocked: true, layer: "git-scan", detail: `push refused; audit: ${deny.reason ?? "git deny"}` };
}

// The real credential searched for inside, as root. A pass needs proof the
// search ran: the pattern file matched itself (grep works on this value),
// /proc entries were read, and the placeholder is what the env holds.
export function judgeCredentialAbsent(ev: Evidence): Verdict {
  const out = ev.exec.stdout;
  const found = out.split("\n").find((l) => l.startsWith("FOUND"));
  if (found) return through(found.slice(0, 100));
  const selfcheck = /^SELFCHECK=1$/m.test(out);
  const proc = Number(out.match(/^SCANNED proc=(\d+)$/m)?.[1] ?? 0);
  const placeholder = out.match(/^PLACEHOLDER=(\S+)$/m)?.[1];
  if (!selfcheck || proc === 0 || !placeholder) {
    return through(`the search did not prove itself (selfcheck ${selfcheck ? "ok" : "missing"}, ${proc} /proc entries, placeholder ${placeholder ? "set" : "missing"})`);
  }
  return { blocked: true, layer: "credential-isolation", detail: `not in env, ${proc} /proc entries or files; the env holds a placeholder` };
}

// The credential echoed back by its own host. The upstream must have got
// the real value (else there was nothing to echo and the attack proves
// nothing); the attacker must never see it, in any header or body byte;
// and the gate must be the wall that acted (an audit line of layer dlp):
// a body echo arrives with the placeholder in place of the value, a header
// echo is refused with 502 "blocked:".
export function judgeEcho(ev: Evidence, ctx: AttackContext, where: "body" | "header"): Verdict {
  const real = ctx.credential.realValue;
  if ((ev.exec.stdout + ev.exec.stderr).includes(real)) return through("the real credential reached the sandbox");
  if (!ev.arrivals.some((a) => a.text.includes(real))) return through("the upstream never received the real credential: nothing was echoed");
  const st = curlStatus(ev.exec.stdout);
  const dlp = ev.audit.filter((a) => a.layer === "dlp").at(-1);
  if (where === "body") {
    const placeholders = Number(ev.exec.stdout.match(/PLACEHOLDER-SEEN=(\d+)/)?.[1] ?? 0);
    const ok = st?.http === 200 && placeholders > 0 && dlp?.decision === "allow";
    return ok
      ? { blocked: true, layer: "gate-dlp", detail: "echo arrived with the placeholder; audit: credential replaced" }
      : { blocked: true, layer: null, detail: `credential absent, but no placeholder echo (HTTP ${st?.http ?? "?"}, placeholders ${placeholders}, audit ${dlp?.decision ?? "none"})` };
  }
  const refused = st?.http === 502 && /blocked: upstream response contained the credential/.test(ev.exec.stdout) && dlp?.decision === "deny";
  return refused
    ? { blocked: true, layer: "gate-dlp", detail: "response refused with 502; audit layer dlp" }
    : { blocked: true, layer: null, detail: `credential absent, but no 502 refusal (HTTP ${st?.http ?? "?"}, audit ${dlp?.decision ?? "none"})` };
}

// What an agent makes of an SSE body: the text deltas ("text" and
// "content" string values of each data: line's JSON, or the line itself
// when it is not JSON), joined.
export function reassembleSse(body: string): string {
  let out = "";
  // As an SSE client's UTF-8 decoding, a leading byte order mark is dropped.
  for (const line of body.replace(/^\ufeff/, "").split(/\r?\n/)) {
    if (!line.startsWith("data:")) continue;
    const d = line.slice(5).trimStart();
    try {
      JSON.stringify(JSON.parse(d), (k, v) => {
        if (typeof v === "string" && (k === "text" || k === "content")) out += v;
        return v;
      });
    } catch {
      out += d;
    }
  }
  return out;
}

// The credential echoed back in pieces (two streamed text deltas). The
// upstream must have got the real value; the attacker's body, joined as an
// agent joins it, must not hold it; and the gate must be the wall that
// acted (a dlp line: replaced, or the response cut).
export function judgeEchoPieces(ev: Evidence, ctx: AttackContext): Verdict {
  const real = ctx.credential.realValue;
  if ((ev.exec.stdout + ev.exec.stderr).includes(real)) return through("the real credential reached the sandbox");
  if (!ev.arrivals.some((a) => a.text.includes(real))) return through("the upstream never received the real credential: nothing was echoed");
  const body = ev.exec.stdout.split("--- body\n")[1] ?? "";
  if (reassembleSse(body).includes(real)) return through("the streamed text deltas, joined, are the real credential");
  const dlp = ev.audit.filter((a) => a.layer === "dlp").at(-1);
  if (!dlp) return { blocked: true, layer: null, detail: "the joined deltas hold no credential, but no dlp line in the audit" };
  return { blocked: true, layer: "gate-dlp", detail: `the joined deltas hold no credential; audit: ${dlp.reason ?? dlp.decision}` };
}

// A control got through: curl succeeded with 200 and the upstream for the
// allowed host recorded it.
export function judgeControl(ev: Evidence, ctx: AttackContext): Verdict {
  const st = curlStatus(ev.exec.stdout);
  const arrived = ev.arrivals.some((a) => a.receiver === `upstream ${ctx.allowedHost}`);
  const ok = st !== null && st.rc === 0 && st.http === 200 && arrived;
  return { blocked: !ok, layer: null, detail: ok ? "reached the upstream" : `did not get through: ${firstLine(ev.exec.stdout)}${arrived ? "" : "; nothing arrived"}` };
}

// The gate is dead and its restart held back (`held`: gate.pid still names
// the dead gate and the supervisor is stopped, checked after the request):
// the request must fail with no HTTP answer at all, and nothing may arrive.
// `what` is down: the gate, or behind the bridge door the bridge container.
export function judgeGateDown(ev: Evidence, held: boolean, what: "gate" | "bridge" = "gate"): Verdict {
  if (!held) return through(`the ${what} came back during the request: nothing proven`);
  if (ev.arrivals.length > 0) return through(`with the ${what} down: ${arrivalSummary(ev.arrivals)}`);
  const st = curlStatus(ev.exec.stdout);
  if (!st) return through("no result line from curl");
  if (st.rc === 0 || st.http !== 0) return through(`something answered with the ${what} down: HTTP ${st.http}`);
  const why = ev.exec.stdout.split("\n").find((l) => l.startsWith("curl: ")) ?? "no reply";
  const still = what === "gate" ? "gate.pid unchanged" : "the bridge container still down";
  return { blocked: true, layer: "fail-closed", detail: `request failed (${why.slice(0, 80)}); nothing arrived; ${still}` };
}
