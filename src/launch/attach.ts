import type { Bottle } from "../backends/types.ts";
import { UserError } from "../errors.ts";
import type { Spec } from "../manifest/spec.ts";
import { readJsonFile } from "../state/json.ts";
import { requireMetadata, type Metadata } from "../state/metadata.ts";
import { paths } from "../state/paths.ts";
import { checkSlug } from "../state/slug.ts";
import { agentArgv } from "./agent.ts";
import type { Backends } from "./backends.ts";

// `attach` and `exec`: reach the bottle of a slug, which must be running,
// and run the agent or a command in it (terminal and exit code passed through).

export async function runningBottle(home: string, slug: string, backends: Backends): Promise<{ bottle: Bottle; stateDir: string; meta: Metadata }> {
  const stateDir = paths.stateDir(home, checkSlug(slug));
  const meta = requireMetadata(stateDir, slug);
  const backend = await backends.get(meta.backend);
  // No engine call here: the exec itself says if the bottle is gone.
  const bottle = backend.handle(slug);
  return { bottle, stateDir, meta };
}

// The spec saved at launch (names and non-secret literals only).
// Its schema is loaded here, not with this module: `exec` needs none of it.
export async function savedSpec(stateDir: string): Promise<Spec> {
  const { specSchema } = await import("../manifest/spec.ts");
  const file = paths.spec(stateDir);
  const r = readJsonFile(file, specSchema);
  if (r.ok) return r.value;
  if (r.missing) throw new UserError(`state of ${stateDir} has no spec.json; start a new bottle with 'claude-bottle up'`);
  throw new UserError(`${file} ${r.reason}; start a new bottle with 'claude-bottle up'`);
}

export async function attachCommand(home: string, slug: string, backends: Backends): Promise<number> {
  const { bottle, stateDir } = await runningBottle(home, slug, backends);
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  return bottle.exec(agentArgv(await savedSpec(stateDir)), { tty, stdin: true });
}

export async function execCommand(home: string, slug: string, argv: string[], backends: Backends): Promise<number> {
  if (argv.length === 0) throw new UserError(`give a command: claude-bottle exec ${slug} -- <command> [args...]`, 2);
  const { bottle } = await runningBottle(home, slug, backends);
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  return bottle.exec(argv, { tty, stdin: true });
}
