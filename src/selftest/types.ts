import type { AuditRecord } from "../gate/types.ts";

// The layers that can stop an attack, outermost first. A user reading the
// report learns not only that an attack failed but which wall stopped it.
export type Layer =
  | "sealed-network" // the bottle has no interface: no route, no resolver
  | "gate-policy" // host/method/path/IP-literal allowlist
  | "gate-dlp" // secret or placeholder in URL, header or body
  | "gate-ssrf" // upstream resolved to a private/loopback address
  | "gate-parser" // malformed / smuggled / oversized request refused
  | "git-scan" // pre-receive secret scan rejected a push
  | "credential-isolation" // the real credential never enters the bottle
  | "fail-closed"; // gate down -> no way out

// What the runner knows about the bottle under attack. Everything here is
// either public (host names, ports) or a planted test secret.
export interface AttackContext {
  proxy: string; // http://127.0.0.1:3128 inside the bottle
  allowedHost: string; // a host the policy allows (TLS terminated, DLP on)
  allowedHttpsUrl: string; // https://<allowedHost>:<port>/
  allowedHttpUrl: string; // http://<allowedHost>:<port>/
  secrets: { name: string; value: string }[]; // planted, present in the bottle's env by name
  credential: { envVar: string; realValue: string; placeholderHost: string }; // auth route credential
  otherAllowedHost: string; // allowed host WITHOUT the credential route
  wildcardDomain: string; // a route allows *.<this>: only DLP can stop a crafted subdomain
  hostListeners: { label: string; host: string; port: number }[]; // services on the host side
  gitRemoteUrl: string | null; // declared upstream URL (rewritten to the gate inside)
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

// What the host side observed while one attack ran.
export interface Observed {
  audit: AuditRecord[]; // new lines in the bottle's audit.jsonl
  upstream: string; // everything the test upstream received (decoded text)
}

export interface Verdict {
  blocked: boolean;
  layer: Layer | null; // the layer that was observed to block
  detail: string; // one line, never a secret value
}

export interface Attack {
  id: string; // stable, e.g. "1.http-host"
  category: number; // 1..9 as in the suite's spec, 10 = fault cases
  title: string;
  expected: Layer;
  user?: string; // run as this user instead of the agent user
  // Shell script run inside the bottle (sent on stdin to `sh -s`, never argv).
  script: (ctx: AttackContext) => string;
  // Judge the outcome from the command result and the audit lines the gate
  // wrote while the attack ran.
  judge: (r: ExecResult, seen: Observed, ctx: AttackContext) => Verdict;
}

export interface AttackOutcome {
  id: string;
  category: number;
  title: string;
  expected: Layer;
  observed: Layer | null;
  blocked: boolean;
  pass: boolean; // blocked, and by the expected layer
  detail: string;
}
