import type { AuditEntry, GateLog } from "./audit.ts";
import type { Channels } from "./channels.ts";
import { compileDlp, type Dlp } from "./dlp/index.ts";
import type { EgressRoute } from "../manifest/schema.ts";
import type { Upstream, UpstreamPool } from "./pool.ts";
import { compileResponseGuard, type ResponseGuard } from "./response-guard.ts";
import type { LeafMinter } from "./tls/leaf.ts";
import type { GatePolicy, GateSecrets } from "./types.ts";
import type { Resolver } from "./upstream.ts";
import { buildVhosts, type Vhost, type VhostRegistration } from "./vhosts/index.ts";

// The state every part of one running gate shares (what used to be the
// variables of one closure in server.ts). One per startGate; the connection
// loop, CONNECT, forwarding, relay and the vhost bridge each take it.

export interface GateLimits {
  // One agent's tools rarely hold more than a few dozen connections (npm
  // opens at most 15); the cap bounds what a flood can make the gate hold:
  // a paused Bun socket still takes one read of up to 512 KiB into its own
  // buffer (docs/design/gate.md), so 256 connections bound that at 128 MiB.
  maxConnections: number;
  // From the first byte of a request head to its end (slowloris).
  headerTimeoutMs: number;
  // A connection to the TCP door must send the bottle's token within this
  // (gate/door.ts).
  doorTokenTimeoutMs: number;
  // Idle keep-alive connection / idle tunnel.
  idleTimeoutMs: number;
  // No byte of a request body for this long while the gate waits for one:
  // 408 (a stalled body, like a stalled head).
  bodyTimeoutMs: number;
  upstreamConnectTimeoutMs: number;
  // Upstream silent for this long while a response is awaited.
  upstreamIdleTimeoutMs: number;
  // A DLP body is held (not sent upstream) until this many bytes of it came
  // off the wire, framing included: a body of one-byte chunks (six wire
  // bytes per payload byte) or of long chunk extensions reaches it as soon
  // as a plain one.
  dlpWindowBytes: number;
  dlpHoldbackBytes: number;
  // All requests together never hold more than this for DLP, counted in the
  // memory the held bodies take (their buffers' capacity): past it, a body
  // switches to the streaming mode early (256 connections times an 8 MiB
  // window would otherwise be 2 GiB).
  dlpMemoryBudgetBytes: number;
  // All socket readers together (client and upstream sockets) queue at
  // most about this much before reading turns to strict pull (io.ts): a
  // connection's handler busy elsewhere no longer lets its socket fill.
  readBufferBudgetBytes: number;
  // Idle upstream connections kept per host for any client connection
  // (pool.ts). 0: none, every client connection dials its own, as mitmdump
  // does (bench/gate.ts measures both ways; nothing a user sets reaches it).
  upstreamPoolPerKey: number;
  // A git push on a route with `git_push: scan` is held whole and its
  // packfile read: at most this many bytes on the wire, and this many
  // inflated.
  gitPushMaxBytes: number;
  gitPushMaxInflated: number;
}

export const DEFAULT_LIMITS: GateLimits = {
  maxConnections: 256,
  headerTimeoutMs: 15_000,
  doorTokenTimeoutMs: 5_000,
  idleTimeoutMs: 300_000,
  bodyTimeoutMs: 30_000,
  upstreamConnectTimeoutMs: 10_000,
  upstreamIdleTimeoutMs: 300_000,
  dlpWindowBytes: 8 * 1024 * 1024,
  dlpHoldbackBytes: 64 * 1024,
  dlpMemoryBudgetBytes: 128 * 1024 * 1024,
  readBufferBudgetBytes: 16 * 1024 * 1024,
  upstreamPoolPerKey: 8,
  gitPushMaxBytes: 32 * 1024 * 1024,
  gitPushMaxInflated: 128 * 1024 * 1024,
};

// Everything derived from one policy.json: replaced as a whole on reload,
// and a request uses the generation it started under throughout.
export interface Generation {
  policy: GatePolicy;
  dlp: Dlp;
  vhosts: Map<string, Vhost>;
  // Scans responses on `auth` routes for the real credentials (null: no
  // credential long enough to match). See docs/design/gate.md.
  guard: ResponseGuard | null;
  // What a `dlp: off` route is still scanned for: the placeholders of every
  // credential it does not inject itself (null: none to look for).
  placeholderScan(route: EgressRoute): Dlp | null;
}

export async function makeGeneration(
  policy: GatePolicy,
  secrets: GateSecrets,
  vhosts: Map<string, VhostRegistration>,
  stateDir: string,
  log: GateLog,
): Promise<Generation> {
  // The real credentials are secrets too: the gate puts them only where it
  // injects them itself, after scanning.
  const dlp = compileDlp({
    secrets: [...secrets.secrets, ...Object.entries(secrets.credentials).map(([name, value]) => ({ name, value }))],
    placeholders: Object.entries(policy.placeholders).map(([name, value]) => ({ name, value })),
  });
  const built = await buildVhosts(vhosts, { stateDir, policy, secrets, log: (m) => log.info(m) });
  return { policy, dlp, vhosts: built, guard: compileResponseGuard(secrets.credentials, policy.placeholders), placeholderScan: placeholderScanner(policy) };
}

// One literal-only scanner per credential a route injects (few distinct
// values), built on first use.
function placeholderScanner(policy: GatePolicy): (route: EgressRoute) => Dlp | null {
  const cache = new Map<string, Dlp | null>();
  return (route) => {
    const own = route.auth?.token_ref ?? "";
    let d = cache.get(own);
    if (d === undefined) {
      const others = Object.entries(policy.placeholders).filter(([name]) => name !== own);
      d = others.length ? compileDlp({ secrets: [], placeholders: others.map(([name, value]) => ({ name, value })), literalsOnly: true }) : null;
      cache.set(own, d);
    }
    return d;
  };
}

export interface GateContext {
  readonly limits: GateLimits;
  readonly secrets: GateSecrets;
  readonly leaves: LeafMinter;
  readonly pool: UpstreamPool;
  // Tunnels and upstream connections open now (closed on reload when the
  // new policy no longer allows them).
  readonly channels: Channels;
  readonly resolver?: Resolver;
  // CAs trusted for upstream TLS (undefined: the bundled roots).
  readonly upstreamCa?: string[];
  readonly log: GateLog;
  // One audit line per decision (audit.ts fills in the rest of the record).
  record(e: AuditEntry): void;
  // The current policy generation.
  gen: Generation;
  // Memory all DLP windows hold right now (dlpMemoryBudgetBytes).
  dlpHeld: number;
  // Upstream connections dialled (stats).
  dials: number;
}

// One client connection (or terminated tunnel): the upstream connection its
// last request used, kept for the next request to the same place.
export interface ConnState {
  upstream: Upstream | null;
  // The upstream finished its last exchange cleanly and may be pooled.
  clean: boolean;
}
