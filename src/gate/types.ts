import type { EgressRoute, GitUpstream } from "../manifest/schema.ts";

// The gate's policy file (<state>/policy.json). Holds no secret: credentials
// reach the gate on its stdin at start (see GateSecrets) and live only in
// its memory.
export interface GatePolicy {
  version: 1;
  slug: string;
  routes: EgressRoute[];
  git: GitUpstream[];
  // Host repository `up` ran in, served as the implicit git upstream
  // `workspace` (bottle pushes land under refs/heads/bottle/<slug>/).
  git_workspace?: string | null;
  supervise: boolean;
  // token_ref -> placeholder the bottle sees instead of the real value.
  placeholders: Record<string, string>;
}

// Sent to the gate process over stdin as one JSON document, then stdin is
// closed. Never written to disk, never on argv.
export interface GateSecrets {
  // token_ref -> real credential value (injected on the wire).
  credentials: Record<string, string>;
  // The bottle's own secret env values (prompted or copied from the host):
  // DLP blocks them, in any encoding, going anywhere.
  secrets: { name: string; value: string }[];
  // Where upstream names resolve and which extra CA is trusted, set only by
  // a launcher that runs its own upstream (`claude-bottle selftest`, tests).
  // It travels here, on the stdin of a process the launcher spawned, and
  // not in an environment variable, so no .envrc or shell profile can steer
  // the gate; a restarted gate gets it again from its supervisor.
  upstream?: UpstreamOverrides;
  // The TCP door (gate/door.ts) when the bottle is reached through a bridge
  // container: where to listen and the token a connection must present
  // first. Chosen by the launcher from what the docker engine reports, never
  // from an environment variable; a restarted gate gets the same from its
  // supervisor, so the bridge's connections keep working.
  door?: DoorSecret;
}

export interface DoorSecret {
  listen: { host: string; port: number };
  token: string; // 64 hex digits; a secret like the credentials
}

export interface UpstreamOverrides {
  // name -> IP address the gate dials for it (the SSRF rules still apply).
  hosts?: Record<string, string>;
  // One more CA (PEM) trusted for upstream TLS, beside the bundled roots.
  ca?: string;
}

// What the pure decision function sees of a request.
export interface RequestFacts {
  host: string; // as given by the client (normalised by the policy module)
  port: number;
  method: string; // "CONNECT" for a tunnel before termination
  path: string | null; // null for CONNECT
  scheme: "http" | "https";
}

export type Decision =
  | { allow: true; route: EgressRoute; host: string }
  | { allow: false; reason: string; host: string };

// One audit line per decision (<state>/audit.jsonl).
export interface AuditRecord {
  time: string; // ISO 8601
  bottle: string; // slug
  method: string;
  host: string;
  port: number;
  path: string | null;
  decision: "allow" | "deny";
  reason: string | null;
  layer: "policy" | "dlp" | "ssrf" | "tls" | "git" | "supervise" | "gate";
  status: number | null;
  bytes_out: number;
  bytes_in: number;
}

// A virtual host under bottle.internal (git, supervise) is a fetch-style
// handler: the gate terminates TLS / parses HTTP and hands it a Request.
export type VhostHandler = (req: Request) => Promise<Response>;
