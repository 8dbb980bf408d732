import type { BackendName } from "./names.ts";
import type { PlanJson } from "../plan/types.ts";
import type { Spec } from "../manifest/spec.ts";

export interface PreflightProblem {
  what: string; // "docker daemon not reachable"
  fix: string; // "start Docker Desktop, or run dockerd"
}

export interface PreflightResult {
  backend: BackendName;
  ok: boolean;
  problems: PreflightProblem[];
}

export interface ExecOptions {
  tty?: boolean; // pass the terminal through (-it)
  stdin?: boolean; // forward our stdin (-i)
  env?: Record<string, string>; // non-secret env only: values show up on argv
  workdir?: string;
  user?: string;
}

export type RunInput = string | Uint8Array | ReadableStream<Uint8Array>;

export interface RunOptions extends ExecOptions {
  input?: RunInput;
  maxStdout?: number;
}

// What a captured command (docker, smolvm, or a command in a bottle) gave back.
export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

// A running bottle. Every command and provisioning step shared between
// backends goes through this, so command files never branch on the backend.
// What a backend did while starting the bottle, so that provisioning does
// not do it again (each step it skips is an exec round trip, tens of ms):
// - home: the agent's home unpacked from LaunchContext.homeTar;
// - trust: the system store trusts the bottle's CA (a bundle made on the
//   host, mounted);
// - relay: the relay was seen listening (the bottle's way out is open).
export interface BottleStart {
  home: boolean;
  trust: boolean;
  relay: boolean;
}

export interface Bottle {
  slug: string;
  // Absent: nothing beyond starting it (provisioning does the rest).
  readonly started?: BottleStart;
  exec(argv: string[], opts?: ExecOptions): Promise<number>;
  // Like exec, but captures output (for provisioning and tests). A stream
  // input is piped to the command as it comes (e.g. a host tar's stdout), so
  // large inputs are never held in memory.
  // What the command prints is read up to a bound (capture.ts; maxStdout,
  // default 64 MiB): past it the command is stopped and run throws.
  run(argv: string[], opts?: RunOptions): Promise<Captured>;
  stop(): Promise<void>;
  remove(): Promise<void>;
}

export interface BottleInfo {
  slug: string;
  backend: BackendName;
  status: "running" | "stopped" | "created" | "missing" | "unknown";
  name: string; // container / machine name
  // The bridge door's bridge, for a bottle that uses one: running, or not
  // (stopped or gone; the bottle then has no way out until it is back).
  door?: "up" | "down";
}

export interface CleanupItem {
  kind: "container" | "machine" | "volume" | "process" | "socket" | "state";
  id: string;
  detail: string;
  // The bottle it belongs to, when the backend knows (from a label).
  slug?: string | null;
  // Part of a bottle's door (a bridge container, its volume), not the
  // bottle itself: its presence says nothing about whether the bottle is.
  door?: boolean;
}

// Looks after what a bottle's door needs besides the gate (the docker
// bridge door's bridge container), for the gate's watcher. `ensure`
// returns what it found wrong and put right, or null when all was well;
// it throws when it could not put it right.
export interface DoorKeeper {
  what: string; // "bridge"
  ensure(): Promise<string | null>;
}

// How a backend explains itself the first time it is used (src/launch/
// first-run.ts): each backend supplies its own words, so a new backend
// cannot silently borrow another's.
export interface BackendAbout {
  label: string; // as users call it: "docker", "smolvm"
  sealLine: string; // what keeps the agent in
  imageLine: string; // shown when the agent image is built or prepared, never when reused
}

export interface Backend {
  name: BackendName;
  about: BackendAbout;
  preflight(): Promise<PreflightResult>;
  // Pure: what launch would do (args, rendered files), for the plan summary.
  describe(spec: Spec, plan: PlanJson): Record<string, unknown>;
  // Starts what a launch of this spec needs and can be had before anything
  // of the bottle exists (docker: the agent image checked, or built), so the
  // launcher runs it beside its own first steps; launch() waits for it.
  // Makes nothing that needs an undo (an image is a cache).
  prepare(spec: Spec, ctx: PrepareContext): Promise<void>;
  launch(spec: Spec, plan: PlanJson, ctx: LaunchContext): Promise<Bottle>;
  attach(slug: string): Promise<Bottle | null>;
  // The bottle of a slug without asking the engine (exec and attach pay for
  // one engine call, not two); its calls fail if the bottle is not there.
  handle(slug: string): Bottle;
  list(): Promise<BottleInfo[]>;
  cleanupPlan(): Promise<CleanupItem[]>;
  cleanup(items: CleanupItem[]): Promise<void>;
  // The bottle's door keeper, when its door needs one (null otherwise). The
  // token is the door's (GateSecrets.door), held in memory by the caller.
  doorKeeper?(slug: string, stateDir: string, token: string): DoorKeeper | null;
}

export type PrepareContext = Pick<LaunchContext, "verbose" | "progress" | "imageBuild">;

export interface LaunchContext {
  stateDir: string;
  gateSocket: string; // host path of the gate's unix socket
  env: Record<string, string>; // non-secret env for the agent, incl. placeholders and proxy vars
  secretEnvNames: string[]; // names whose values are passed by name from our process env, never argv
  verbose: boolean;
  progress: (step: string) => void;
  // Called right before the backend builds or prepares the agent image (the
  // slow, once-per-version step), never when a cached image is reused: the
  // launcher explains the build there, once per home.
  imageBuild: () => void;
  // The agent's home as a tar on the host (provisioning stages it before
  // the launch): a backend that can unpack it as the bottle starts does so
  // and says so in Bottle.started; otherwise provisioning sends it in.
  homeTar?: string;
  // The bridge door (plan.door.kind "bridge"): where the gate's TCP door
  // listens, the bridge container's --add-host entry, and the token it must
  // send first. The token is a secret: it goes to the backend's child by
  // env name only.
  door?: { gate: { host: string; port: number }; addHost: string | null; token: string };
}
