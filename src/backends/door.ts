import { UserError } from "../errors.ts";
import type { EngineAssessment } from "./docker/engine.ts";
import type { BackendName } from "./names.ts";

// The bottle's one door to its gate (DESIGN.md principle 2), as the plan
// states it. Two kinds:
// - unix: the gate's socket directory is bind-mounted into the bottle
//   (docker) or passed with --mount-socket (smolvm). Needs an engine that
//   shares this machine's kernel and filesystem.
// - bridge: the socket lives in a docker volume, served by a per-bottle
//   bridge container that reaches the gate over TCP with a per-bottle token
//   (docs/design/docker-desktop.md). For engines in a VM (Docker Desktop,
//   OrbStack, colima) or in another mount namespace.
// Choice: --door > CLAUDE_BOTTLE_DOOR > auto (from what the engine reports).
// Both doors give the bottle the same: a socket at the same path, no
// network; the choice never changes where a secret goes (the gate keeps
// every credential; the bottle gets the same env either way).

export const DOOR_KINDS = ["unix", "bridge"] as const;
export type DoorKind = (typeof DOOR_KINDS)[number];

export const DOOR_ENV = "CLAUDE_BOTTLE_DOOR";

export function parseDoor(value: string, from: string): DoorKind | "auto" {
  const v = value.trim().toLowerCase();
  if (v === "unix" || v === "bridge" || v === "auto") return v;
  throw new UserError(`${from}: unknown door '${value.slice(0, 40)}'; use unix, bridge or auto`, 2);
}

export interface DoorDecision {
  kind: DoorKind;
  source: "flag" | "env" | "auto";
  why: string;
  warning: string | null; // a forced door that cannot work with this engine
}

// Pure. `engine` is null when the engine could not be asked (no docker):
// auto then says unix, the door that needs nothing from an engine.
export function chooseDoor(args: { flag?: string; envVar?: string; backend: BackendName; engine: EngineAssessment | null }): DoorDecision {
  // An explicit `auto` anywhere means auto (the flag can undo the variable).
  const fromFlag = args.flag ? parseDoor(args.flag, "--door") : null;
  const fromEnv = !fromFlag && args.envVar ? parseDoor(args.envVar, DOOR_ENV) : null;
  const want: { kind: DoorKind; source: "flag" | "env" } | null =
    fromFlag && fromFlag !== "auto" ? { kind: fromFlag, source: "flag" } : fromEnv && fromEnv !== "auto" ? { kind: fromEnv, source: "env" } : null;
  if (args.backend === "smolmachines") {
    if (want?.kind === "bridge") throw new UserError(`the bridge door is for the docker backend; smolvm passes the gate's socket into the VM itself (--mount-socket)`, 2);
    return { kind: "unix", source: want?.source ?? "auto", why: "smolvm passes the gate's socket into the VM (--mount-socket)", warning: null };
  }
  const e = args.engine;
  if (want) {
    const by = want.source === "flag" ? `--door ${want.kind}` : `${DOOR_ENV}=${want.kind}`;
    const warning = want.kind === "unix" && e && !e.sharesHost ? `${by} with ${e.label}: ${e.why}; the bottle will have no way out` : null;
    return { kind: want.kind, source: want.source, why: `chosen with ${by}${e ? `; ${e.why}` : ""}`, warning };
  }
  if (!e) return { kind: "unix", source: "auto", why: "the docker engine could not be asked; assuming it shares this machine", warning: null };
  return { kind: e.sharesHost ? "unix" : "bridge", source: "auto", why: e.why, warning: null };
}
