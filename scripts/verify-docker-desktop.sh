#!/usr/bin/env bash
# Check, on a Mac with Docker Desktop, OrbStack or colima, what claude-bottle's
# bridge door relies on but this project's CI (Linux) cannot show. See
# docs/design/docker-desktop.md. Nothing here has been run on a Mac by the
# project: please send the output (it holds no secret) with your engine's
# name and version.
#
#   scripts/verify-docker-desktop.sh
#
# Needs: the docker CLI talking to the engine (its current context), the
# claude-bottle binary (CLAUDE_BOTTLE_BIN, default: claude-bottle on PATH),
# nc, and the network once to pull node:22-bookworm-slim (the default base
# of the agent image). Claude Code itself is not needed: the agent image is
# built without it (CLAUDE_BOTTLE_AGENT_PACKAGE=none).
#
# Checks:
#   1. the engine is recognised and claude-bottle chooses the bridge door for
#      it by itself (doctor and the plan say so, and why);
#   2. the engine routes host.docker.internal (with the plan's --add-host,
#      if any) from a container to a listener on the Mac bound to the plan's
#      address (loopback), the way the bridge container reaches the gate;
#   3. a unix socket served in a docker volume by one container is reachable
#      from another container with no network that mounts it read-only;
#   4. which folders the engine shares (a `mount` workspace needs that; the
#      bridge door itself needs none);
#   5. a real bottle behind the bridge door: a request through the gate, a
#      connection to the gate's door without the token gets nothing and is
#      audited, a killed bridge cuts the bottle off and is brought back, down
#      leaves no container and no volume;
#   6. the escape suite (claude-bottle selftest) through the bridge door,
#      including the bridge killed while the bottle tries to get out.
# Everything it creates is removed on exit.
set -euo pipefail

CB="${CLAUDE_BOTTLE_BIN:-claude-bottle}"
# Any image with node in it (the default agent base; CB_VERIFY_IMAGE to use
# another, e.g. one already on an offline engine).
IMAGE="${CB_VERIFY_IMAGE:-node:22-bookworm-slim}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cb-verify-dd.XXXXXX")"
export CLAUDE_BOTTLE_HOME="$WORK/home"
export CLAUDE_BOTTLE_BACKEND=docker
export CLAUDE_BOTTLE_AGENT_PACKAGE=none
unset CLAUDE_BOTTLE_DOOR
VOL="cb-verify-dd-$$"
LISTENER_PID=""
SLUG=""
pass=0
fail=0

say() { printf '%s\n' "$*"; }
ok() { pass=$((pass + 1)); say "ok   - $*"; }
bad() { fail=$((fail + 1)); say "FAIL - $*"; }

cleanup() {
  [ -n "$SLUG" ] && "$CB" down "$SLUG" >/dev/null 2>&1 || true
  [ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null || true
  docker rm -f "$VOL-server" >/dev/null 2>&1 || true
  docker volume rm -f "$VOL" >/dev/null 2>&1 || true
  rm -rf "$WORK" "$HOME/.cb-verify-selftest.$$"
}
trap cleanup EXIT INT TERM

command -v docker >/dev/null || { say "docker is not on PATH"; exit 2; }
command -v "$CB" >/dev/null || { say "claude-bottle is not on PATH (or set CLAUDE_BOTTLE_BIN)"; exit 2; }
command -v nc >/dev/null || { say "nc is needed for the host-side listener"; exit 2; }
say "# $(uname -sr); $("$CB" --version 2>/dev/null | head -1)"
say "# engine: $(docker info --format '{{.Name}} / {{.OperatingSystem}} / kernel {{.KernelVersion}} / {{.ServerVersion}}')"
say "# context: $(docker context show 2>/dev/null || echo '?') $(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || true)"

# 1. The door claude-bottle chooses, by itself.
mkdir -p "$CLAUDE_BOTTLE_HOME/agents" "$WORK/project"
printf -- '---\nbottle: claude\nworkspace: none\n---\nVerification agent.\n' >"$CLAUDE_BOTTLE_HOME/agents/verify.md"
doctor="$("$CB" doctor 2>&1 || true)"
say "$doctor" | sed -n 's/^  door: /# doctor: door: /p'
PLAN="$WORK/plan.json"
(cd "$WORK/project" && "$CB" up verify --dry-run --format json >"$PLAN" 2>/dev/null) || true
field() { sed -n "s/^ *\"$1\": \"\\{0,1\\}\\([^\",]*\\)\"\\{0,1\\},\\{0,1\\}\$/\\1/p" "$PLAN" | head -1; }
KIND="$(field kind)"
LISTEN="$(field gate_listen)"
ADDHOST="$(field add_host)"
say "# plan: door $KIND, gate listens on ${LISTEN:-?}, --add-host ${ADDHOST:-none (the engine resolves host.docker.internal)}"
if [ "$KIND" = "bridge" ] && grep -q '"source": "auto"' "$PLAN"; then ok "the bridge door is chosen automatically"; else bad "the plan's door is '$KIND', not bridge (auto)"; fi
[ -n "$LISTEN" ] || LISTEN=127.0.0.1

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  say "# pulling $IMAGE"
  docker pull -q "$IMAGE" >/dev/null
fi

# 2. host.docker.internal reaches a listener bound to the gate's address.
PORT=$((20000 + $$ % 20000))
nc -l "$LISTEN" "$PORT" >"$WORK/received" 2>/dev/null &
LISTENER_PID=$!
sleep 0.5
ADD=()
if [ -n "$ADDHOST" ] && [ "$ADDHOST" != "null" ]; then ADD=(--add-host "$ADDHOST"); fi
MARK="cb-verify-$$"
docker run --rm ${ADD[@]+"${ADD[@]}"} "$IMAGE" node -e \
  "const s=require('net').connect($PORT,'host.docker.internal',()=>{s.end('$MARK\n')});s.on('error',e=>{console.error(e.message);process.exit(1)})" \
  >/dev/null 2>"$WORK/dial.err" || true
sleep 0.5
if grep -q "$MARK" "$WORK/received" 2>/dev/null; then
  ok "a container reaches a listener on the Mac's $LISTEN through host.docker.internal"
else
  bad "host.docker.internal did not reach $LISTEN:$PORT on the Mac ($(head -1 "$WORK/dial.err"))"
fi
kill "$LISTENER_PID" 2>/dev/null || true
LISTENER_PID=""

# 3. A socket in a volume, served by one container, used by another.
docker volume create "$VOL" >/dev/null
docker run -d --name "$VOL-server" -v "$VOL:/s" "$IMAGE" node -e \
  "require('net').createServer(c=>c.end('volume-ok\n')).listen('/s/t.sock',()=>require('fs').chmodSync('/s/t.sock',0o666))" >/dev/null
sleep 1
got="$(docker run --rm --network none --user 1000 -v "$VOL:/s:ro" "$IMAGE" node -e \
  "const c=require('net').connect('/s/t.sock');c.on('data',d=>process.stdout.write(d));c.on('error',e=>{console.error(e.message);process.exit(1)})" 2>&1 || true)"
if [ "$got" = "volume-ok" ]; then ok "a unix socket in a volume works across containers (reader: no network, read-only mount)"; else bad "socket in a volume: $got"; fi
docker rm -f "$VOL-server" >/dev/null 2>&1 || true
docker volume rm -f "$VOL" >/dev/null 2>&1 || true

# 4. File sharing (informational: only a `mount` workspace needs it). A
# marker file must be seen inside: an engine may create a missing folder
# in its VM rather than refuse the mount.
for dir in "$HOME" "$PWD" "${TMPDIR:-/tmp}" /tmp; do
  marker="$(mktemp "$dir/.cb-verify-share.XXXXXX" 2>/dev/null)" || { say "# file sharing: cannot write in $dir"; continue; }
  if docker run --rm --network none --mount "type=bind,source=$dir,target=/probe,readonly" "$IMAGE" test -f "/probe/$(basename "$marker")" >/dev/null 2>&1; then
    say "# file sharing: $dir is shared with the engine"
  else
    say "# file sharing: $dir is NOT shared with the engine (a mount workspace there would fail)"
  fi
  rm -f "$marker"
done

# 5. A real bottle behind the bridge door.
up="$(cd "$WORK/project" && "$CB" up verify -d --yes 2>"$WORK/up.err")" || true
SLUG="$(printf '%s\n' "$up" | tail -1)"
STATE="$CLAUDE_BOTTLE_HOME/state/$SLUG"
if [ -z "$SLUG" ] || [ ! -f "$STATE/bridge.json" ]; then
  bad "up -d did not start a bottle behind the bridge door: $(tail -3 "$WORK/up.err")"
else
  ok "up -d started $SLUG behind the bridge door"
  code="$("$CB" exec "$SLUG" -- curl -s -o /dev/null -w '%{http_code}' -m 10 http://example.com/ || true)"
  if [ "$code" = "403" ]; then ok "a request from the bottle reached the gate (403: example.com is not allowed)"; else bad "request through the gate: HTTP '$code'"; fi

  GPORT="$(sed -n 's/^ *"port": \([0-9]*\).*/\1/p' "$STATE/bridge.json" | head -1)"
  GHOST="$(sed -n 's/^ *"host": "\([^"]*\)".*/\1/p' "$STATE/bridge.json" | head -1)"
  reply="$( (printf 'GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nUser-Agent: cb-verify-without-the-door-token\r\n\r\n'; sleep 7) | nc -w 8 "$GHOST" "$GPORT" 2>/dev/null || true)"
  if [ -z "$reply" ] && grep -q '"door: ' "$STATE/audit.jsonl"; then
    ok "a connection to the gate's door ($GHOST:$GPORT) without the token got nothing and was audited"
  else
    bad "the gate's door answered a connection without the token, or did not audit it (reply: ${reply:0:80})"
  fi

  docker kill --signal KILL "claude-bottle-$SLUG-bridge" >/dev/null
  cut="$("$CB" exec "$SLUG" -- curl -s -o /dev/null -w '%{http_code}' -m 5 http://example.com/ 2>/dev/null || true)"
  if [ "$cut" != "403" ]; then ok "with its bridge killed the bottle is cut off (curl: '$cut')"; else bad "the bottle still reached the gate with its bridge killed"; fi
  back=""
  for _ in $(seq 1 30); do
    back="$("$CB" exec "$SLUG" -- curl -s -o /dev/null -w '%{http_code}' -m 5 http://example.com/ 2>/dev/null || true)"
    [ "$back" = "403" ] && break
    sleep 1
  done
  if [ "$back" = "403" ] && grep -q '"event":"bridge-restarted"' "$STATE/audit.jsonl"; then ok "the supervisor brought the bridge back"; else bad "the bridge did not come back within 30 s"; fi

  "$CB" down "$SLUG" >/dev/null 2>&1 || true
  left="$(docker ps -aq --filter "label=claude-bottle.slug=$SLUG"; docker volume ls -q --filter "label=claude-bottle.slug=$SLUG")"
  if [ -z "$left" ]; then ok "down left no container and no volume"; else bad "down left: $left"; fi
  SLUG=""
fi

# 6. The escape suite through the bridge door. Its bottle mounts a
# workspace from its temporary folder: one under $HOME, which every engine
# here shares (colima shares only $HOME by default; macOS's $TMPDIR is
# under /var/folders).
SELFTEST_TMP="$HOME/.cb-verify-selftest.$$"
mkdir -p "$SELFTEST_TMP"
if TMPDIR="$SELFTEST_TMP" "$CB" selftest --backend docker >"$WORK/selftest.txt" 2>"$WORK/selftest.err"; then
  if grep -q '10.bridge-killed' "$WORK/selftest.txt"; then ok "selftest: every attack blocked, the bridge's fault cases included"; else bad "selftest passed but did not run behind the bridge door"; fi
else
  bad "selftest: $(grep -E '^(FAIL|NOT RUN)' "$WORK/selftest.txt" | head -5 | tr '\n' ';') $(tail -2 "$WORK/selftest.err")"
fi
sed -n '/^selftest (/p' "$WORK/selftest.txt"
rm -rf "$SELFTEST_TMP"

say ""
say "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
