import { networkInterfaces } from "node:os";
import { join } from "node:path";
import type { Endpoint } from "../types.ts";
import { startDnsRecorder, type DnsAnswers } from "./dns.ts";
import { arrivalLog, type ArrivalLog } from "./record.ts";
import { startTcpListener, startUdpListener, startUnixListener, type Listener } from "./sockets.ts";
import { startRecordingUpstream, type RecordingUpstream } from "./upstream.ts";

// The host side of the escape suite, for any sandbox: nothing here knows
// about Docker or the gate. A sandbox under test gets the endpoints (put
// them in its AttackContext), its attacks run, and the judges read what
// arrived. The same receivers can stand behind claude-bottle or a peer.

export interface HostAddress {
  label: string; // interface name, "-v6" for IPv6: "docker0", "eth0-v6"
  address: string;
}

// Every address of this host a sandbox could try to dial directly: not
// loopback (a sandbox's 127.0.0.1 is its own), not link-local (needs a
// scope id). The docker bridge address is one of them when Docker is here.
// `ip -o addr` first: Bun's networkInterfaces() leaves out an interface
// that is down, and docker0 is down while no container is attached to it.
export function hostAddresses(): HostAddress[] {
  const found: { name: string; address: string; v6: boolean }[] = [];
  try {
    const r = Bun.spawnSync(["ip", "-o", "addr", "show"], { stdout: "pipe", stderr: "ignore" });
    for (const m of r.stdout.toString().matchAll(/^\d+:\s+(\S+)\s+(inet6?)\s+([^/\s]+)/gm)) {
      found.push({ name: m[1]!, address: m[3]!, v6: m[2] === "inet6" });
    }
  } catch {
    // no `ip` (macOS)
  }
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) found.push({ name, address: a.address, v6: a.family === "IPv6" });
  }
  const out: HostAddress[] = [];
  for (const f of found) {
    if (out.some((o) => o.address === f.address)) continue;
    if (f.v6 ? f.address === "::1" || /^fe[89ab]/i.test(f.address) : f.address.startsWith("127.")) continue;
    out.push({ label: f.v6 ? `${f.name}-v6` : f.name, address: f.address });
  }
  return out;
}

export interface Receivers {
  log: ArrivalLog;
  upstream: RecordingUpstream;
  tcp: Endpoint[]; // one TCP listener per host address
  udp: Endpoint[];
  dns: Endpoint[];
  loopback: Endpoint; // a TCP service on the host's own loopback
  unix: string; // path of a unix socket service on the host
  stop(): void;
}

export async function startReceivers(opts: {
  names: string[]; // host names the recording upstream answers for
  dir: string; // a private directory for the unix socket
  dnsAnswers?: DnsAnswers;
  addresses?: HostAddress[];
  windowCap?: number; // bytes one attack's window may hold (record.ts)
}): Promise<Receivers> {
  const log = arrivalLog(opts.windowCap);
  const stops: (() => void)[] = [];
  const stopAll = () => {
    for (const s of stops.splice(0)) {
      try {
        s();
      } catch {
        // already closed
      }
    }
  };
  try {
    const upstream = await startRecordingUpstream(opts.names, log);
    stops.push(upstream.stop);
    const keep = <T extends { stop(): void }>(x: T): T => {
      stops.push(() => x.stop());
      return x;
    };
    const ep = (l: Listener | { label: string; host: string; port: number }): Endpoint => ({ label: l.label, host: l.host, port: l.port });
    const addrs = opts.addresses ?? hostAddresses();
    const tcp: Endpoint[] = [];
    const udp: Endpoint[] = [];
    const dns: Endpoint[] = [];
    for (const a of addrs) {
      tcp.push(ep(keep(await startTcpListener(a.label, a.address, log))));
      udp.push(ep(keep(await startUdpListener(a.label, a.address, log))));
      const d = keep(await startDnsRecorder({ host: a.address, label: a.label, log, answers: opts.dnsAnswers ?? (() => null) }));
      dns.push({ label: a.label, host: d.host, port: d.port });
    }
    const loopback = ep(keep(await startTcpListener("host-loopback", "127.0.0.1", log)));
    const unix = keep(await startUnixListener("host-socket", join(opts.dir, "host-service.sock"), log)).host;
    return { log, upstream, tcp, udp, dns, loopback, unix, stop: stopAll };
  } catch (e) {
    stopAll();
    throw e;
  }
}
