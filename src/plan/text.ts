import { padEnd } from "../ui/table.ts";
import type { PlanJson } from "./types.ts";

// The human summary of a plan: one label column, one value per line, the
// rest of a multi-value field indented under the first.

const WIDTH = 10;

function field(label: string, values: string[]): string[] {
  const pad = " ".repeat(WIDTH);
  if (values.length === 0) return [padEnd(label, WIDTH) + "(none)"];
  return values.map((v, i) => (i === 0 ? padEnd(label, WIDTH) : pad) + v);
}

// `host [ports] [methods] [paths] [auth:scheme] [tls] [dlp:off] [allow-private:all|<addresses>] [git-push:scan]`
export function egressLine(r: PlanJson["egress"][number]): string {
  const parts = [r.ports ? `${r.host}:${r.ports.join(",")}` : r.host];
  if (r.methods) parts.push(r.methods.join(","));
  if (r.paths) parts.push(r.paths.join(","));
  if (r.auth) parts.push(`auth:${r.auth.scheme || r.auth.header}`);
  if (r.tls === "passthrough") parts.push("tls:passthrough");
  if (r.dlp === "off") parts.push("dlp:off");
  if (r.allow_private === true) parts.push("allow-private:all");
  else if (Array.isArray(r.allow_private)) parts.push(`allow-private:${r.allow_private.join(",")}`);
  if (r.git_push === "scan") parts.push("git-push:scan");
  return parts.join(" ");
}

// "bridge (auto)" and why; for the bridge door, how the bridge reaches the gate.
export function doorLines(d: NonNullable<PlanJson["door"]>): string[] {
  const out = [`${d.kind} (${d.source}): ${d.why}`];
  if (d.kind === "bridge") {
    out.push(`gate door on ${d.gate_listen ?? "?"}:<port>, dialled from a bridge container as host.docker.internal${d.add_host ? ` (--add-host ${d.add_host})` : ""}`);
  }
  return out;
}

function envLine(e: PlanJson["env"][number]): string {
  if (e.mode === "host") return `${e.name} (from host $${e.host_var})`;
  if (e.mode === "prompt") return `${e.name} (asked at launch)`;
  return `${e.name} (literal)`;
}

function source(s: string): string {
  return s === "<embedded>" ? "built in" : s;
}

export function renderPlanText(plan: PlanJson): string {
  const lines = [
    ...field("agent", [`${plan.agent}  (${source(plan.sources.agent)})`]),
    ...field("bottle", [`${plan.bottle}  (${source(plan.sources.bottle)})`]),
    ...field("backend", [plan.backend]),
    ...field("slug", [plan.slug]),
    ...field("env", plan.env.map(envLine)),
    ...field("skills", plan.skills),
    ...field("git", plan.git.map((g) => `${g.name} -> ${g.upstream}`)),
    ...field("egress", plan.egress.map(egressLine)),
    ...field("workspace", [plan.workspace.path ? `${plan.workspace.mode} ${plan.workspace.path}` : plan.workspace.mode]),
  ];
  if (plan.image) lines.push(...field("image", [plan.image]));
  if (plan.door) lines.push(...field("door", doorLines(plan.door)));
  return lines.join("\n") + "\n";
}
