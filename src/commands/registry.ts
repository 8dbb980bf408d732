import type { CommandDef } from "citty";

// One entry per subcommand: its one-line description, which `--help` lists
// without loading any command, and its module, loaded lazily so that
// `--help` and fast commands don't pay for the gate, TLS or docker code.
// Hidden commands are the binary's internal plumbing. Each command file
// takes its meta from here (commandMeta), so the two never disagree.
type Lazy = () => Promise<CommandDef<any>>;
const load = (p: Promise<{ default: CommandDef<any> }>) => p.then((m) => m.default);

const table: Record<string, { description: string; hidden?: true; load: Lazy }> = {
  up: { description: "Start an agent in a sealed bottle (--dry-run shows the plan and creates nothing)", load: () => load(import("./up.ts")) },
  init: { description: "Write commented example bottle and agent files into ~/.claude-bottle", load: () => load(import("./init.ts")) },
  doctor: { description: "Check what each backend needs on this machine and how to install what is missing", load: () => load(import("./doctor.ts")) },
  ls: { description: "List bottles: status, uptime and allowed/blocked requests", load: () => load(import("./ls.ts")) },
  attach: { description: "Attach to the agent of a running bottle", load: () => load(import("./attach.ts")) },
  exec: { description: "Run a command in a running bottle: exec <slug> -- <command...> (exit code passed through)", load: () => load(import("./exec.ts")) },
  down: { description: "Stop a bottle and its gate and delete its state (also a state kept for resume)", load: () => load(import("./down.ts")) },
  cleanup: { description: "Find and remove leftovers of killed bottles (containers, machines, gates, sockets, state)", load: () => load(import("./cleanup.ts")) },
  resume: { description: "Relaunch a bottle whose agent exited non-zero, with the same slug, CA and policy", load: () => load(import("./resume.ts")) },
  "supervise-gate": { description: "Keep a detached bottle's gate running (internal)", hidden: true, load: () => load(import("./supervise-gate.ts")) },
  hook: { description: "git hooks of the gate's mirrors (internal)", hidden: true, load: () => load(import("./hook.ts")) },
  gate: { description: "Run a bottle's gate (internal)", hidden: true, load: () => load(import("./gate.ts")) },
  logs: { description: "Show a bottle's gate decisions (allowed and blocked requests)", load: () => load(import("./logs.ts")) },
  allow: { description: "Allow a host for a bottle (applies to a running bottle at once)", load: () => load(import("./allow.ts")) },
  deny: { description: "Remove a host from a bottle's allowlist (applies to a running bottle at once)", load: () => load(import("./deny.ts")) },
  requests: { description: "List what agents asked the operator for (supervise), pending first", load: () => load(import("./requests.ts")) },
  approve: { description: "Approve an agent's request (see claude-bottle requests); applies at once", load: () => load(import("./approve.ts")) },
  reject: { description: "Reject an agent's request (see claude-bottle requests)", load: () => load(import("./reject.ts")) },
  dash: { description: "Terminal dashboard: live bottles, blocked requests, approve/reject agents' requests", load: () => load(import("./dash.ts")) },
  selftest: { description: "Attack a real bottle from inside and show which layer blocks each attack", load: () => load(import("./selftest.ts")) },
};

export const commands: Record<string, Lazy> = Object.fromEntries(Object.entries(table).map(([name, t]) => [name, t.load]));

export function commandMeta(name: string): { name: string; description: string; hidden?: boolean } {
  const t = table[name];
  if (!t) throw new Error(`no command ${name} in the registry`);
  return { name, description: t.description, ...(t.hidden ? { hidden: true } : {}) };
}

// Stand-ins for the subcommands carrying only their meta: what citty needs
// to render the top-level usage.
export function commandStubs(): Record<string, { meta: ReturnType<typeof commandMeta> }> {
  return Object.fromEntries(Object.keys(table).map((name) => [name, { meta: commandMeta(name) }]));
}
