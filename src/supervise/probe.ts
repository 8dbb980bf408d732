// Is the gate answering? Readiness and liveness both mean "the gate accepts
// a connection on its socket", not "the socket file exists": a gate killed
// with -9 leaves its socket file behind, and connecting to it is refused
// (fail closed: the bottle's relay gets the same refusal).
//
// The probe connects and closes without sending a request: every request
// the gate answers is an audit line (a decision), and a probe every half
// second would drown the real ones and inflate `ls`'s blocked count. A
// connection closed before a request head is not a decision.
export function probeGate(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
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
          finish(true, s);
        },
        data() {},
        close() {
          finish(false);
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

// Poll with a short backoff (10 ms doubling to 50 ms: a probe is one local
// connect, and a launch waits on this while its bottle starts) until the
// gate answers or the deadline passes. `stillWorth` lets the caller stop early
// (the gate process died, the launch was aborted).
export async function waitForGate(
  socketPath: string,
  opts: { timeoutMs?: number; stillWorth?: () => boolean } = {},
): Promise<boolean> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let delay = 10;
  while (Date.now() < deadline) {
    if (opts.stillWorth && !opts.stillWorth()) return false;
    if (await probeGate(socketPath, Math.min(1000, Math.max(100, deadline - Date.now())))) return true;
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 2, 50);
  }
  return false;
}
