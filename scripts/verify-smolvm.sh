#!/usr/bin/env bash
# Check, on a machine with a real smolvm (KVM on Linux, or macOS), what the
# claude-bottle smolmachines backend relies on but can only be tested
# against a fake on CI. See docs/design/smolmachines.md.
#
#   scripts/verify-smolvm.sh [IMAGE]
#
# IMAGE: a local docker image with sh, socat, curl and grep (default
# debian:bookworm-slim plus an apt install inside docker), or a path to a
# `docker save` archive. Needs: smolvm >= 1.9.0, socat and curl on the host
# for the stand-in gate, docker only if IMAGE is not an archive.
#
# It creates one machine from a Smolfile rendered the way claude-bottle
# renders it (no net, no [network], relay as the workload), then checks:
#   1. the VM has no network interface but lo;
#   2. the mounted socket answers from the guest (the gate path);
#   3. the relay on 127.0.0.1:3128, started as the workload, is reachable
#      from `machine exec` (the workload and execs share 127.0.0.1);
#   4. a guest exit code passes through `machine exec`, and smolvm's own
#      errors are exit 1 with `Error:` on stderr;
#   5. --secret-env values reach the guest without appearing on argv;
#   6. labels come back from `machine ls --json`.
# and deletes the machine on exit, whatever happened.
set -euo pipefail

IMAGE="${1:-}"
NAME="claude-bottle-verify-$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cb-verify.XXXXXX")"
GATE_SOCK="$WORK/gate.sock"
GATE_PID=""
pass=0
fail=0

say() { printf '%s\n' "$*"; }
ok() { pass=$((pass + 1)); say "ok   - $*"; }
bad() { fail=$((fail + 1)); say "FAIL - $*"; }

cleanup() {
  smolvm machine delete --name "$NAME" --force >/dev/null 2>&1 || true
  [ -n "$GATE_PID" ] && kill "$GATE_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

command -v smolvm >/dev/null || { say "smolvm is not on PATH"; exit 2; }
command -v socat >/dev/null || { say "socat is needed on the host for the stand-in gate"; exit 2; }
say "# $(smolvm --version)"

# Strip what claude-bottle strips from smolvm's environment.
for v in $(env | sed -n 's/^\(SMOLVM_EGRESS_[A-Za-z0-9_]*\)=.*/\1/p') SMOLVM_PUBLISH_ADDR SMOLVM_GUEST_HOST_SERVICE; do
  unset "$v"
done

# The image, as a local archive (a VM without a NIC cannot pull).
if [ -n "$IMAGE" ] && [ -f "$IMAGE" ]; then
  ARCHIVE="$(cd "$(dirname "$IMAGE")" && pwd)/$(basename "$IMAGE")"
else
  command -v docker >/dev/null || { say "docker is needed to export IMAGE (or pass a docker save archive)"; exit 2; }
  if [ -z "$IMAGE" ]; then
    IMAGE="claude-bottle-verify:latest"
    printf 'FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y --no-install-recommends socat curl ca-certificates && rm -rf /var/lib/apt/lists/*\n' |
      docker build -q -t "$IMAGE" - >/dev/null
  fi
  ARCHIVE="$WORK/agent.tar"
  docker save -o "$ARCHIVE" "$IMAGE"
fi

# A stand-in gate: HTTP on a unix socket that always answers "gate-ok".
cat >"$WORK/gate.sh" <<'GATE'
#!/bin/sh
read -r _
printf 'HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\ngate-ok'
GATE
chmod +x "$WORK/gate.sh"
socat "UNIX-LISTEN:$GATE_SOCK,fork" "EXEC:$WORK/gate.sh" &
GATE_PID=$!

# The Smolfile, as src/backends/smolmachines/smolfile.ts renders it.
cat >"$WORK/Smolfile" <<'EOF'
entrypoint = [ "socat", "TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr", "UNIX-CONNECT:/run/claude-bottle/gate.sock" ]
env = [ "HTTP_PROXY=http://127.0.0.1:3128", "NASTY=a \"quoted\" value", "NO_PROXY=localhost,127.0.0.1", "http_proxy=http://127.0.0.1:3128", "no_proxy=localhost,127.0.0.1" ]
cpus = 1
memory = 1024
EOF
if grep -Eq '^[[:space:]]*(net|image)[[:space:]]*=|\[network\]' "$WORK/Smolfile"; then bad "Smolfile has a network key"; exit 1; fi

smolvm machine create --name "$NAME" --smolfile "$WORK/Smolfile" --image "$ARCHIVE" \
  --mount-socket "$GATE_SOCK:/run/claude-bottle/gate.sock" \
  --label claude-bottle=1 --label claude-bottle.slug=verify-00000 >/dev/null && ok "create (local archive, --mount-socket, labels)" || { bad "create"; exit 1; }
smolvm machine start --name "$NAME" >/dev/null && ok "start" || { bad "start"; exit 1; }

x() { smolvm machine exec --name "$NAME" -- "$@"; }

# Ready-wait on the relay, with backoff, bounded (~60 s).
delay=0.1
for _ in $(seq 1 30); do
  if x sh -c "grep -q ' 0100007F:0C38 00000000:0000 0A ' /proc/net/tcp" 2>/dev/null; then break; fi
  sleep "$delay"
  delay=$(awk -v d="$delay" 'BEGIN { d *= 2; if (d > 2) d = 2; print d }')
done

# /proc/net/dev lists the interfaces of the reader's network namespace.
links="$(x sh -c 'sed -n "3,\$ s/^ *\([^:]*\):.*/\1/p" /proc/net/dev' 2>/dev/null | tr '\n' ' ')"
[ "$links" = "lo " ] && ok "no NIC: only lo ($links)" || bad "network interfaces in the guest: '$links' (want only lo)"

out="$(x curl -sS --max-time 5 --unix-socket /run/claude-bottle/gate.sock http://gate.internal/ 2>&1 || true)"
[ "$out" = "gate-ok" ] && ok "mounted socket answers from the guest" || bad "mounted socket: '$out'"

out="$(x curl -sS --max-time 5 http://example.internal/ 2>&1 || true)"
[ "$out" = "gate-ok" ] && ok "relay on 127.0.0.1:3128 (the workload) reachable from exec" || bad "relay via HTTP_PROXY: '$out'"

# 192.0.2.1 is TEST-NET-1 (RFC 5737): never routed, so even a broken VM
# sends nothing anywhere that matters; any success means a NIC exists.
out="$(x curl -sS --noproxy '*' --max-time 3 http://192.0.2.1/ 2>&1 || true)"
case "$out" in *gate-ok*|*"<"*) bad "direct egress worked: '$out'" ;; *) ok "no direct egress (curl: $(printf '%s' "$out" | head -c 80))" ;; esac

set +e
x sh -c 'exit 42'; code=$?
[ "$code" = 42 ] && ok "guest exit code passes through (42)" || bad "exit code $code, want 42"
err="$(smolvm machine exec --name "$NAME-missing" -- true 2>&1 >/dev/null)"; code=$?
set -e
case "$err" in "Error: "*) [ "$code" = 1 ] && ok "smolvm error: exit 1, '$(printf '%s' "$err" | head -c 60)...'" || bad "smolvm error exit $code" ;; *) bad "smolvm error text: '$err'" ;; esac

export CB_VERIFY_SECRET="verify-secret-$$"
out="$(smolvm machine exec --name "$NAME" --secret-env CB_SECRET=CB_VERIFY_SECRET -- printenv CB_SECRET 2>&1 || true)"
[ "$out" = "$CB_VERIFY_SECRET" ] && ok "--secret-env delivers the value by reference" || bad "--secret-env: '$out'"
unset CB_VERIFY_SECRET

out="$(x printenv NASTY 2>&1 || true)"
[ "$out" = 'a "quoted" value' ] && ok "Smolfile env value with quotes and spaces intact" || bad "env NASTY: '$out'"

if smolvm machine ls --json | grep -q '"claude-bottle.slug": *"verify-00000"'; then ok "labels in ls --json"; else bad "labels missing from ls --json"; fi

smolvm machine stop --name "$NAME" >/dev/null && ok "stop" || bad "stop"
state="$(smolvm machine status --name "$NAME" --json | sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p' | head -1)"
[ "$state" = stopped ] && ok "status after stop: stopped" || bad "status after stop: '$state'"
smolvm machine delete --name "$NAME" --force >/dev/null && ok "delete -f" || bad "delete"

say "# $pass passed, $fail failed"
[ "$fail" = 0 ]
