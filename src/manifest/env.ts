import { UserError } from "../errors.ts";
import type { EnvEntry } from "./spec.ts";

// Env entry modes, by the shape of the manifest value:
//   "?"            secret, asked on the tty at launch with a default prompt
//   "?prompt text" secret, asked with that prompt
//   "${HOST_VAR}"  copied from the host environment at launch
//   anything else  a literal
// Values never appear in messages: errors name the entry and the variable.

const HOST_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export function parseEnvEntry(name: string, value: string): EnvEntry {
  if (value.startsWith("?")) {
    const text = value.slice(1).trim();
    return { name, kind: "prompt", prompt: text.length > 0 ? text : `Value for ${name}` };
  }
  const m = HOST_REF.exec(value);
  if (m) return { name, kind: "host", hostVar: m[1]! };
  return { name, kind: "literal", value };
}

export function parseEnvEntries(env: Record<string, string> | undefined): EnvEntry[] {
  return Object.entries(env ?? {}).map(([k, v]) => parseEnvEntry(k, v));
}

type HostEnv = Record<string, string | undefined>;

function missingMessage(missing: { name: string; hostVar: string }[], where: string): string {
  const first = missing[0]!;
  const rest = missing.length > 1 ? ` (also missing: ${missing.slice(1).map((m) => m.hostVar).join(", ")})` : "";
  return `env ${first.name}${where} copies \${${first.hostVar}} from the host, but ${first.hostVar} is not set${rest}; export it before running claude-bottle, or change the entry`;
}

// For a dry run: every ${HOST_VAR} must exist, but nothing is read or asked.
export function checkHostVars(entries: readonly EnvEntry[], hostEnv: HostEnv, source?: string): void {
  const missing = entries.flatMap((e) => (e.kind === "host" && hostEnv[e.hostVar] === undefined ? [{ name: e.name, hostVar: e.hostVar }] : []));
  if (missing.length > 0) throw new UserError(missingMessage(missing, source ? ` (${source})` : ""));
}

export type PromptFn = (prompt: string, name: string) => Promise<string>;

// Resolution to values happens at launch only. Pure apart from promptFn, which
// the launcher wires to a no-echo tty read. All host variables are checked
// before any prompt so the user is not asked for secrets only to hit an error.
export async function resolveEnvValues(
  entries: readonly EnvEntry[],
  hostEnv: HostEnv,
  promptFn: PromptFn,
  source?: string,
): Promise<Record<string, string>> {
  checkHostVars(entries, hostEnv, source);
  const out: Record<string, string> = {};
  for (const e of entries) {
    if (e.kind === "literal") out[e.name] = e.value;
    else if (e.kind === "host") out[e.name] = hostEnv[e.hostVar]!;
    else {
      const v = await promptFn(e.prompt, e.name);
      if (v.length === 0) throw new UserError(`env ${e.name}: no value was entered; run again and type the value at the prompt`);
      out[e.name] = v;
    }
  }
  return out;
}
