// What the host side received while an attack ran. Every receiver (the
// recording upstreams, the DNS recorder, the TCP/UDP/unix listeners, the git
// upstream) appends here, so a judge reads one list of arrivals whatever the
// sandbox under test is.
//
// The log is windowed: the runner takes everything that arrived during one
// attack, judges it, and the memory is freed. A window that received more
// than the cap is marked overflowed and its evidence is incomplete: the
// runner fails that attack instead of judging a partial record (a leak past
// the cap would otherwise go unseen).

export type ArrivalKind = "https" | "http" | "dns" | "tcp" | "udp" | "unix" | "git";

export interface Arrival {
  kind: ArrivalKind;
  receiver: string; // which receiver, e.g. "upstream allowed.selftest.test", "tcp docker0"
  from: string; // peer address as the receiver saw it ("" for unix sockets)
  text: string; // what arrived, latin1-decoded (bytes preserved)
  bytes: number;
}

export interface Window {
  arrivals: Arrival[];
  overflowed: boolean; // more than the cap arrived: `arrivals` is incomplete
  bytes: number; // everything that arrived, kept or not
}

export interface ArrivalLog {
  add(a: Omit<Arrival, "bytes"> & { bytes?: number }): void;
  // Everything since the previous take(); starts a new window.
  take(): Window;
}

export const DEFAULT_WINDOW_CAP = 16 * 1024 * 1024;

export function arrivalLog(cap = DEFAULT_WINDOW_CAP): ArrivalLog {
  let w: Window = { arrivals: [], overflowed: false, bytes: 0 };
  let held = 0;
  return {
    add(a) {
      const bytes = a.bytes ?? a.text.length;
      w.bytes += bytes;
      if (held + a.text.length > cap) {
        w.overflowed = true;
        // Still record THAT something arrived (without the bytes), but do not
        // let a flood of tiny pieces grow the list without bound either.
        if (w.arrivals.length < 1000) w.arrivals.push({ ...a, text: "", bytes });
        return;
      }
      held += a.text.length;
      w.arrivals.push({ ...a, bytes });
    },
    take() {
      const out = w;
      w = { arrivals: [], overflowed: false, bytes: 0 };
      held = 0;
      return out;
    },
  };
}

export function latin1(d: Uint8Array | string): string {
  return typeof d === "string" ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString("latin1");
}
