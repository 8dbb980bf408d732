import { RAW_CLIENT_JS } from "./raw-client.ts";
import type { Attack, AttackContext, Evidence, Verdict } from "./types.ts";

// How an attack's body becomes the script a sandbox runs, and how the
// runner knows it ran. Every script checks its tools first and prints a
// per-run marker last: a missing tool, a shell that died half-way or a
// sandbox that never ran the script at all leaves no marker, and that is
// "did not run", a failure distinct from "got through". Without it, a
// missing `socat` (exit 127) reads as "no connection", and every
// sealed-network attack passes on a bottle that proved nothing.

export const MISSING_PREFIX = "CB-MISSING:";
export const ranMarker = (nonce: string) => `CB-RAN-${nonce}`;

// Shell functions the bodies use. Defining them needs no tool; calling them
// does, and each attack lists what it calls in `tools`. $CB_PROXY is the
// sandbox's proxy URL as seen inside: written into the script, or read from
// the sandbox's own env when only the sandbox knows it (AttackContext.proxyEnv).
// raw() talks to that proxy (raw-client.ts).
const prelude = (ctx: AttackContext) => `
CB_PROXY=${ctx.proxyEnv ? `"\$${ctx.proxyEnv}"` : `'${ctx.proxy}'`}
probe() {
  rm -f /tmp/cb.body /tmp/cb.err
  code=$(curl -sS -m 10 -o /tmp/cb.body -w '%{http_code}' "$@" 2>/tmp/cb.err); rc=$?
  echo "CURL=$rc HTTP=$code"; head -c 300 /tmp/cb.body 2>/dev/null; echo; head -c 600 /tmp/cb.err 2>/dev/null; echo
}
raw() {
  cat > /tmp/cb-raw.js <<'CB_RAW_EOF'
${RAW_CLIENT_JS}
CB_RAW_EOF
  node /tmp/cb-raw.js "$CB_PROXY" "$@"
}
ifaces() { echo "--- ip -o addr"; ip -o addr 2>&1; echo "--- end ip"; }
`;

export function wrapScript(a: Pick<Attack, "tools" | "body">, ctx: AttackContext): string {
  const tools = [...new Set(a.tools)].join(" ");
  return `cb_missing=""
for t in ${tools}; do command -v "$t" >/dev/null 2>&1 || cb_missing="$cb_missing $t"; done
if [ -n "$cb_missing" ]; then echo "${MISSING_PREFIX}$cb_missing"; exit 3; fi
${prelude(ctx)}
${a.body(ctx)}
echo "${ranMarker(ctx.nonce)}"
exit 0
`;
}

// Did the attack run to its end? null when it did; else why not.
export function notRun(ev: Evidence, ctx: AttackContext): string | null {
  const out = ev.exec.stdout;
  const missing = out.split("\n").find((l) => l.startsWith(MISSING_PREFIX));
  if (missing) return `did not run: missing ${missing.slice(MISSING_PREFIX.length).trim()}`;
  if (!out.split("\n").some((l) => l.trim() === ranMarker(ctx.nonce))) {
    const why = (ev.exec.stderr.trim().split("\n").at(-1) ?? "").slice(0, 120);
    return `did not run: no ran-marker (shell exit ${ev.exec.code}${why ? `: ${why}` : ""})`;
  }
  if (ev.exec.code !== 0) return `did not run: the attack shell exited ${ev.exec.code} after its marker`;
  return null;
}

// The verdict on one attack: "did not run" first, then the attack's judge.
// A receiver that overflowed means the record is incomplete: no verdict
// from a partial record.
export function judgeAttack(a: Attack, ev: Evidence, ctx: AttackContext, overflowed = false): Verdict {
  const why = notRun(ev, ctx);
  if (why) return { blocked: false, layer: null, detail: why, ran: false };
  if (overflowed) return { blocked: false, layer: null, detail: "a receiver got more than it can hold: evidence incomplete" };
  return a.judge(ev, ctx);
}
