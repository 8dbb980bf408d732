import type { AuditRecord } from "../gate/types.ts";
import type { Arrival } from "./receivers/record.ts";

// The layers that can stop an attack, outermost first. A user reading the
// report learns not only that an attack failed but which wall stopped it.
export type Layer =
  | "sealed-network" // the bottle has no interface: no route, no resolver
  | "sealed-fs" // the host's files and sockets are not in the bottle
  | "gate-policy" // host/method/path/IP-literal allowlist
  | "gate-dlp" // secret or placeholder in URL, header or body
  | "gate-ssrf" // upstream resolved to a private/loopback address
  | "gate-parser" // malformed / smuggled / oversized request refused
  | "git-scan" // pre-receive secret scan rejected a push
  | "credential-isolation" // the real credential never enters the bottle
  | "fail-closed"; // gate down -> no way out

// A receiver on the host side: a TCP/UDP listener or DNS recorder.
export interface Endpoint {
  label: string; // "docker0", "eth0-v6", "host-loopback"
  host: string; // address as the attacker dials it
  port: number;
}

// What an attack knows about the sandbox under attack and the receivers
// behind it. Everything here is either public (names, addresses, ports) or
// a planted test secret; nothing is specific to Docker or to claude-bottle's
// gate, so a peer sandbox can be attacked with the same catalogue.
export interface AttackContext {
  nonce: string; // per run: the ran-marker an attack prints last
  proxy: string; // the sandbox's HTTP proxy as seen inside, e.g. http://127.0.0.1:3128
  // The env var inside the sandbox that holds its proxy URL, when that URL is
  // only known inside (a peer whose proxy wants a per-session password in
  // the URL, like sandbox-runtime's). Unset: `proxy` is the URL.
  proxyEnv?: string;
  allowedHost: string; // a host the policy allows (TLS terminated, DLP on)
  allowedHttpsUrl: string; // https://<allowedHost>:<port>/
  allowedHttpUrl: string; // http://<allowedHost>:<port>/
  evilHost: string; // a host no policy allows, served by the recording upstream
  secrets: { name: string; value: string }[]; // planted, present in the sandbox's env by name
  credential: { envVar: string; realValue: string; placeholderHost: string }; // auth route credential
  otherAllowedHost: string; // allowed host WITHOUT the credential route
  wildcardDomain: string; // a route allows *.<this>: only DLP can stop a crafted subdomain
  hostTcp: Endpoint[]; // TCP listeners on the host's own addresses (bridge, LAN, IPv6)
  hostUdp: Endpoint[]; // UDP listeners on the same addresses
  hostDns: Endpoint[]; // DNS recorders on the same addresses
  hostLoopback: Endpoint; // a TCP service on the host's loopback
  hostUnixSocket: string | null; // path of a unix socket service on the host
  gitRemoteUrl: string | null; // declared upstream URL (rewritten to the gate inside)
  // A file in the sandbox's workspace holding an undeclared copy of one
  // planted secret (a `.env` the user forgot): no policy names it.
  workspaceSecret: { path: string; secretName: string } | null;
}

export interface ExecResult {
  code: number; // exit code of the attack shell
  stdout: string;
  stderr: string;
}

// Everything a judge may look at: what the attacker printed, and what the
// host side recorded while the attack ran.
export interface Evidence {
  exec: ExecResult;
  audit: AuditRecord[]; // new gate decisions (claude-bottle; empty for a peer)
  arrivals: Arrival[]; // every receiver's records, incl. git upstream ref changes
}

export interface Verdict {
  blocked: boolean;
  layer: Layer | null; // the layer that was observed to block
  detail: string; // one line, never a secret value
  ran?: false; // set only when the attack did not run (a failure either way)
}

export interface Attack {
  id: string; // stable, e.g. "1.http-host"
  category: number; // 1..9 as in the suite's spec, 10 = fault cases
  title: string;
  expected: Layer;
  user?: string; // run as this user instead of the agent user
  tools: string[]; // commands the script needs; a missing one means "did not run"
  // The attack's shell body. The runner wraps it (tools check first, the
  // ran-marker last: see script.ts) and sends it on stdin, never argv.
  body: (ctx: AttackContext) => string;
  // Judge the outcome of an attack that ran. script.ts's `judgeAttack`
  // decides first whether it ran at all.
  judge: (ev: Evidence, ctx: AttackContext) => Verdict;
}

export interface AttackOutcome {
  id: string;
  category: number;
  title: string;
  expected: Layer;
  observed: Layer | null;
  ran: boolean;
  blocked: boolean;
  pass: boolean; // ran, blocked, and by the expected layer
  detail: string;
}
