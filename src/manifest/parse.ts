import { UserError } from "../errors.ts";
import { parseMarkdown } from "./frontmatter.ts";
import { summarizeIssues } from "./issues.ts";
import { agentSchema, bottleSchema, type AgentManifest, type BottleManifest } from "./schema.ts";

// One manifest file -> a validated manifest, or a UserError whose single line
// names the file and the key path. Pure: the caller reads the bytes.

export function parseBottle(file: string, bytes: Uint8Array | string): BottleManifest {
  const { data } = parseMarkdown(file, bytes);
  const r = bottleSchema.safeParse(data);
  if (!r.success) throw new UserError(`${file}: ${summarizeIssues(bottleSchema, r.error.issues, data)}`);
  // `auth: {}` would silently mean "no token_ref"; the schema already requires
  // token_ref, so an empty auth block fails above with a clear key path.
  return r.data;
}

export function parseAgent(file: string, bytes: Uint8Array | string): { manifest: AgentManifest; prompt: string } {
  const { data, body } = parseMarkdown(file, bytes);
  const r = agentSchema.safeParse(data);
  if (!r.success) throw new UserError(`${file}: ${summarizeIssues(agentSchema, r.error.issues, data)}`);
  return { manifest: r.data, prompt: body };
}
