import type { EventEmitter } from "node:events";
import type { AuditEntry, GateLog } from "./audit.ts";
import { decide, reachable } from "./policy/decide.ts";
import { privateAllowance, privateAllowed } from "./policy/private.ts";
import { isForbiddenAddress } from "./policy/ssrf.ts";
import type { GatePolicy } from "./types.ts";

// The ways out the bottle holds open through the gate, so that a policy
// reload (SIGHUP after `allow`/`deny`/an approval) closes the ones the new
// policy no longer allows. A request reads the current policy when it
// starts, but what is already open would otherwise outlive its revocation:
//   - a passthrough tunnel was checked once, at CONNECT, and is bytes
//     afterwards;
//   - a terminated tunnel (and a request streaming inside it) was allowed
//     at CONNECT;
//   - an upstream connection, in use or pooled, was dialled for a host and
//     port.
// Each is checked again against the new policy the way it was first let
// through; what fails is closed and audited (one deny line each, reason
// "revoked by policy reload: ...").
//
// A channel is tracked from the moment the gate accepts it (a tunnel at its
// 200, before the bottle sends a byte), and checked once more against the
// policy in force when it is added: the bottle picks its timing, and a
// tunnel accepted before a reload but first used after it (or an upstream
// whose dial finished after it) must not outlive the revocation.

export interface OpenChannel {
  kind: "passthrough" | "tunnel" | "upstream";
  host: string;
  port: number;
  scheme: "http" | "https";
  // The address dialled (passthrough, upstream): a private one must still
  // be one the route's allow_private opens.
  address: string | null;
  close(): void;
}

// Why the channel may no longer stay open under `policy`, or null.
export function revocation(ch: OpenChannel, policy: GatePolicy): string | null {
  const d =
    ch.kind === "upstream"
      ? reachable(ch.host, ch.port, ch.scheme, policy)
      : decide({ host: ch.host, port: ch.port, method: "CONNECT", path: null, scheme: "https" }, policy);
  if (!d.allow) return d.reason;
  // The new policy inspects this host: a passthrough tunnel would escape it.
  if (ch.kind === "passthrough" && d.route.tls !== "passthrough") return `${ch.host} is no longer a passthrough route`;
  if (ch.address !== null) {
    const why = isForbiddenAddress(ch.address);
    if (why && !privateAllowed(privateAllowance(d.route), ch.address, ch.port)) return `${ch.host} is at ${ch.address}: ${why}, no longer allowed`;
  }
  return null;
}

export class Channels {
  private readonly open = new Set<OpenChannel>();

  // Tracks `ch` until `sock` closes; false (and `ch` closed and audited)
  // when `policy`, the one in force now, no longer allows it.
  add(ch: OpenChannel, sock: EventEmitter, policy: GatePolicy, record: (e: AuditEntry) => void): boolean {
    const why = revocation(ch, policy);
    if (why !== null) {
      this.revoked(ch, why, record);
      return false;
    }
    this.open.add(ch);
    sock.once("close", () => this.open.delete(ch));
    return true;
  }

  get size(): number {
    return this.open.size;
  }

  // Closes and audits every channel the new policy does not allow; returns
  // how many.
  revoke(policy: GatePolicy, record: (e: AuditEntry) => void, log: GateLog): number {
    let n = 0;
    for (const ch of [...this.open]) {
      const why = revocation(ch, policy);
      if (why === null) continue;
      this.open.delete(ch);
      n++;
      this.revoked(ch, why, record);
    }
    if (n > 0) log.info(`policy reload closed ${n} open channel(s)`);
    return n;
  }

  private revoked(ch: OpenChannel, why: string, record: (e: AuditEntry) => void): void {
    record({
      method: ch.kind === "upstream" ? "-" : "CONNECT",
      host: ch.host,
      port: ch.port,
      decision: "deny",
      reason: `revoked by policy reload: ${ch.kind === "upstream" ? "upstream connection" : ch.kind === "tunnel" ? "tunnel" : "passthrough tunnel"} closed: ${why}`,
      layer: "policy",
      status: null,
    });
    ch.close();
  }
}
