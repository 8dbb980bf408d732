import type net from "node:net";
import type { EgressRoute } from "../manifest/schema.ts";
import type { SocketReader } from "./io.ts";
import { allowanceKey, privateAllowance } from "./policy/private.ts";

// Idle upstream connections, shared by the bottle's client connections (a
// new tunnel to a host it talked to a moment ago skips DNS, TCP and the
// upstream TLS handshake). A connection is parked only when it finished its
// last exchange cleanly and holds no unread byte; a byte that arrives while
// it idles here (the upstream speaking unasked), or its close, drops it at
// once, and it is checked again when taken: a byte the upstream sent unasked
// must never become the answer to the bottle's next request.

export interface Upstream {
  key: string;
  sock: net.Socket;
  reader: SocketReader;
}

// Scheme, host, port and the allow_private the address was checked under:
// a connection is reused only for what it was dialled for.
export function poolKey(t: { scheme: string; host: string; port: number }, route: EgressRoute): string {
  return `${t.scheme}://${t.host}:${t.port}/${allowanceKey(privateAllowance(route), route)}`;
}

interface Entry {
  u: Upstream;
  timer: ReturnType<typeof setTimeout>;
  // Drops the entry: the upstream sent a byte or closed while parked.
  drop: () => void;
}

export class UpstreamPool {
  private readonly idle = new Map<string, Entry[]>();
  private closed = false;

  constructor(
    private readonly perKey = 8,
    private readonly idleMs = 30_000,
  ) {}

  park(u: Upstream): void {
    if (this.closed || this.perKey <= 0 || u.sock.destroyed || !u.reader.idle) {
      u.sock.destroy();
      return;
    }
    let list = this.idle.get(u.key);
    if (!list) this.idle.set(u.key, (list = []));
    const drop = () => {
      const l = this.idle.get(u.key);
      const i = l ? l.indexOf(entry) : -1;
      if (i >= 0) l!.splice(i, 1);
      this.release(entry);
      u.sock.destroy();
    };
    const entry: Entry = { u, timer: setTimeout(drop, this.idleMs), drop };
    entry.timer.unref?.();
    u.sock.on("data", drop);
    u.sock.on("close", drop);
    list.push(entry);
    while (list.length > this.perKey) {
      const old = list.shift()!;
      this.release(old);
      old.u.sock.destroy();
    }
  }

  private release(e: Entry): void {
    clearTimeout(e.timer);
    e.u.sock.off("data", e.drop);
    e.u.sock.off("close", e.drop);
  }

  // The most recently parked live connection for `key`, or null.
  take(key: string): Upstream | null {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const e = list.pop()!;
      this.release(e);
      if (!e.u.sock.destroyed && e.u.reader.idle) return e.u;
      e.u.sock.destroy();
    }
    return null;
  }

  // Shutdown: every idle connection is closed and nothing is parked again.
  closeAll(): void {
    this.closed = true;
    for (const list of this.idle.values()) {
      for (const e of list) {
        this.release(e);
        e.u.sock.destroy();
      }
    }
    this.idle.clear();
  }

  get size(): number {
    let n = 0;
    for (const l of this.idle.values()) n += l.length;
    return n;
  }
}
