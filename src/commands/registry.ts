import type { CommandDef } from "citty";

// One entry per subcommand, loaded lazily so that `--help` and fast commands
// don't pay for the gate, TLS or docker code. Keep descriptions to one line:
// `--help` lists every command with it. Hidden commands (internal plumbing of
// the same binary) carry `meta.hidden` in their own file.
type Lazy = () => Promise<CommandDef<any>>;
const load = (p: Promise<{ default: CommandDef<any> }>) => p.then((m) => m.default);

export const commands: Record<string, Lazy> = {
  up: () => load(import("./up.ts")),
  init: () => load(import("./init.ts")),
  doctor: () => load(import("./doctor.ts")),
  ls: () => load(import("./ls.ts")),
  attach: () => load(import("./attach.ts")),
  exec: () => load(import("./exec.ts")),
  down: () => load(import("./down.ts")),
  cleanup: () => load(import("./cleanup.ts")),
  resume: () => load(import("./resume.ts")),
  "supervise-gate": () => load(import("./supervise-gate.ts")),
  hook: () => load(import("./hook.ts")),
  gate: () => load(import("./gate.ts")),
  logs: () => load(import("./logs.ts")),
  allow: () => load(import("./allow.ts")),
  deny: () => load(import("./deny.ts")),
  requests: () => load(import("./requests.ts")),
  approve: () => load(import("./approve.ts")),
  reject: () => load(import("./reject.ts")),
  dash: () => load(import("./dash.ts")),
  selftest: () => load(import("./selftest.ts")),
};
