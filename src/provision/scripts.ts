import { GUEST_CA_FILE, GUEST_HOME, RELAY_PORT, SYSTEM_CA_BUNDLE, relayListenLine } from "../backends/guest.ts";

export { relayListenLine };

// Pure: the shell steps provisioning runs in the bottle. Values go in as
// arguments ("$1"…), never spliced into the script text. They need only sh,
// tar, grep, tail and sleep: what the agent image (and any Debian or Alpine
// image) has.

// Exit codes of the home step that are not failures of the step itself.
export const NEEDS_TRUST = 70; // the system store lacks the bottle's CA
export const RELAY_DOWN = 71; // nothing listens on the relay port

// A line of the CA's base64 body that identifies it: the last full line,
// inside the signature (random per CA), so another CA never matches it.
export function caMarker(certPem: string): string {
  const body = certPem
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("-----"));
  const full = body.filter((l) => l.length === 64);
  const line = full.at(-1) ?? body.at(-1);
  if (!line) throw new Error("not a PEM certificate");
  return line;
}

// The one exec as the agent: unpack the home tar from stdin (unless the
// bottle started with its home: "$7" is 0), wait for the relay (the
// bottle's only way out) to listen, then say whether the system store
// already trusts this bottle's CA (the docker backend mounts a bundle that
// does; otherwise the root step below adds it).
const HOME_STEP = `set -e
if [ "$7" = 1 ]; then tar -xf - -C "$1"; fi
n=0
while ! grep -q -- "$5" /proc/net/tcp 2>/dev/null; do
  n=$((n + 1))
  if [ "$n" -gt "$6" ]; then echo "the gate relay does not listen in the bottle" >&2; exit ${RELAY_DOWN}; fi
  sleep 0.02
done
grep -qF -- "$4" "$2" 2>/dev/null && grep -qF -- "$4" "$3" 2>/dev/null || exit ${NEEDS_TRUST}
`;

export interface GuestPaths {
  home: string;
  caFile: string;
  bundle: string;
  relayPort: number;
}

export const GUEST_PATHS: GuestPaths = { home: GUEST_HOME, caFile: GUEST_CA_FILE, bundle: SYSTEM_CA_BUNDLE, relayPort: RELAY_PORT };

export function homeStepArgv(marker: string, relayWaitMs = 20_000, g: GuestPaths = GUEST_PATHS, opts: { tar: boolean } = { tar: true }): string[] {
  const tries = String(Math.ceil(relayWaitMs / 20));
  return ["sh", "-c", HOME_STEP, "sh", g.home, g.caFile, g.bundle, marker, relayListenLine(g.relayPort), tries, opts.tar ? "1" : "0"];
}

// As root, only when the home step said so: the CA (stdin) alone where
// NODE_EXTRA_CA_CERTS points, and appended to the system bundle, which is
// a plain concatenation of PEM certificates: no store is regenerated.
// Root needs no capability for this: it owns both directories. Idempotent.
const TRUST_STEP = `set -e
mkdir -p "$(dirname "$1")"
cat > "$1"
chmod 644 "$1"
if ! grep -qF -- "$3" "$2" 2>/dev/null; then
  if [ -s "$2" ] && [ -n "$(tail -c 1 "$2")" ]; then echo >> "$2"; fi
  cat "$1" >> "$2"
fi
`;

export function trustStepArgv(marker: string, g: GuestPaths = GUEST_PATHS): string[] {
  return ["sh", "-c", TRUST_STEP, "sh", g.caFile, g.bundle, marker];
}
