import type { ArgDef } from "citty";
import { closest } from "../manifest/didyoumean.ts";

// citty passes a flag it does not know on to the command, which never looks
// at it: `up -d --yes --dry-rn` launched a bottle instead of printing a
// plan. Every flag a user gives before `--` must be one the command
// declares (its name, camelCase spelling, alias, or `--no-<boolean>`).

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

// Pure: the first flag in `tokens` (a command's arguments, before `--`) that
// `args` does not declare, as a one-line message with a suggestion; null
// when every flag is known.
export function unknownFlag(command: string, args: Record<string, ArgDef>, tokens: readonly string[]): string | null {
  const longs = new Map<string, ArgDef>();
  const shorts = new Map<string, ArgDef>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    longs.set(name, def);
    longs.set(camel(name), def);
    const alias = (def as { alias?: string | string[] }).alias;
    const aliases = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
    for (const a of aliases) (a.length === 1 ? shorts : longs).set(a, def);
  }
  const takesValue = (def: ArgDef | undefined) => def !== undefined && (def.type === "string" || def.type === "enum");
  const known = [...new Set(Object.entries(args).filter(([, d]) => d.type !== "positional").map(([n]) => `--${n}`))];
  const say = (flag: string, word: string) => {
    const near = closest(word, known.map((k) => k.slice(2)));
    const hint = near.length > 0 ? `did you mean --${near[0]}?` : known.length > 0 ? `its flags: ${known.join(", ")}` : "it takes no flags";
    return `unknown flag ${flag} for '${command}'; ${hint} (see 'claude-bottle ${command} --help')`;
  };
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (!tok.startsWith("-") || tok === "-") continue;
    if (tok.startsWith("--")) {
      const eq = tok.indexOf("=");
      const name = tok.slice(2, eq === -1 ? undefined : eq);
      let def = longs.get(name);
      if (def === undefined && name.startsWith("no-")) {
        const base = longs.get(name.slice(3));
        if (base?.type === "boolean") def = base;
      }
      if (def === undefined) return say(tok.slice(0, eq === -1 ? undefined : eq), name);
      if (eq === -1 && takesValue(def)) i++; // its value, whatever it looks like
      continue;
    }
    // -abc: a group of one-letter aliases; a value-taking one ends the group.
    for (let j = 1; j < tok.length; j++) {
      const def = shorts.get(tok[j]!);
      if (def === undefined) return say(`-${tok[j]}`, tok[j]!);
      if (takesValue(def)) {
        if (j === tok.length - 1) i++;
        break;
      }
    }
  }
  return null;
}
