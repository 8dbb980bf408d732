// Is the gate answering? Readiness and liveness both mean "a request on the
// socket gets an HTTP response", not "the socket file exists": a gate killed
// with -9 leaves its socket file behind, and connecting to it is refused.
//
// The probe is an `OPTIONS *` request (RFC 9110 §9.3.7: about the server
// itself, no target host), so the gate has no upstream to decide about.
const PROBE = "OPTIONS * HTTP/1.1\r\nHost: gate.bottle.internal\r\nConnection: close\r\n\r\n";

export function probeGate(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    let buf = "";
    const finish = (ok: boolean, sock?: { end(): void }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        sock?.end();
      } catch {
        // closed already
      }
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    Bun.connect({
      unix: socketPath,
      socket: {
        open(s) {
          s.write(PROBE);
        },
        data(s, chunk) {
          buf += Buffer.from(chunk).toString("latin1");
          if (buf.length >= 9) finish(/^HTTP\/1\.[01] \d{3}/.test(buf), s);
        },
        close() {
          finish(/^HTTP\/1\.[01] \d{3}/.test(buf));
        },
        error() {
          finish(false);
        },
        connectError() {
          finish(false);
        },
      },
    }).catch(() => finish(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Poll with exponential backoff (25 ms doubling to 400 ms) until the gate
// answers or the deadline passes. `stillWorth` lets the caller stop early
// (the gate process died, the launch was aborted).
export async function waitForGate(
  socketPath: string,
  opts: { timeoutMs?: number; stillWorth?: () => boolean } = {},
): Promise<boolean> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let delay = 25;
  while (Date.now() < deadline) {
    if (opts.stillWorth && !opts.stillWorth()) return false;
    if (await probeGate(socketPath, Math.min(1000, Math.max(100, deadline - Date.now())))) return true;
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 2, 400);
  }
  return false;
}
