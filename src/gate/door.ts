import type { SocketReader } from "./io.ts";

// The gate's TCP door (docs/design/docker-desktop.md): where the engine runs
// in a VM that a host unix socket cannot cross, a per-bottle bridge
// container reaches the gate over TCP. That port is reachable by more than
// the bridge (any local process on a Mac's loopback; every container on the
// Linux docker bridge), so a connection is served only after it sent the
// bottle's hello, `claude-bottle-door/1 <token>\n`, as its very first bytes.
// Nothing is answered before that: a peer without the token learns nothing.

export const DOOR_HELLO_PREFIX = "claude-bottle-door/1 ";
// 32 random bytes as hex: the only token shape the gate accepts.
export const DOOR_TOKEN = /^[0-9a-f]{64}$/;

export function doorHello(token: string): Buffer {
  if (!DOOR_TOKEN.test(token)) throw new Error("a door token is 64 lowercase hex digits");
  return Buffer.from(`${DOOR_HELLO_PREFIX}${token}\n`, "latin1");
}

export function newDoorToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
}

export type DoorVerdict = { ok: true } | { ok: false; reason: string };

// Reads exactly the hello's length from the connection, within timeoutMs
// for all of it (a peer sending a byte at a time gets no more time), and
// compares it in constant time. Bytes past the hello are given back to the
// reader: the client may send its first request in the same segment.
export async function admitDoor(reader: SocketReader, hello: Buffer, timeoutMs: number): Promise<DoorVerdict> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.interrupt();
  }, timeoutMs);
  const chunks: Buffer[] = [];
  let got = 0;
  try {
    while (got < hello.length) {
      const c = await reader.read();
      if (!c) break;
      chunks.push(c);
      got += c.length;
    }
  } finally {
    clearTimeout(timer);
  }
  if (got < hello.length) {
    return { ok: false, reason: timedOut ? `no door token within ${timeoutMs} ms (${got} bytes)` : `connection closed before the door token (${got} bytes)` };
  }
  const all = Buffer.concat(chunks, got);
  const ok = crypto.timingSafeEqual(all.subarray(0, hello.length), hello);
  if (!ok) return { ok: false, reason: "wrong door token" };
  reader.unshift(all.subarray(hello.length));
  return { ok: true };
}
