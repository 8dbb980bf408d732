import { insteadOfConfig } from "../git/gitconfig.ts";
import type { GitUpstream } from "../manifest/schema.ts";

// Pure renderers for the files provisioning writes into the bottle's home.

// git config quoting: a value in double quotes with \ and " escaped; a
// newline cannot be represented and would start a new key, so refuse it.
function gitValue(v: string): string {
  if (/[\n\r\0]/.test(v)) throw new Error("a git config value cannot hold a line break");
  return `"${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

// ~/.gitconfig: every upstream URL, with and without `.git`, is rewritten to
// the gate's git vhost (git/gitconfig.ts), so `git push origin` inside the
// bottle lands in the per-bottle mirror (where the pre-receive hook scans
// it) and never goes out directly, whichever spelling the remote uses.
export function renderGitconfig(upstreams: Pick<GitUpstream, "name" | "url">[], workspace: string | null): string {
  const sorted = [...upstreams].sort((a, b) => a.name.localeCompare(b.name));
  for (const u of sorted) gitValue(u.url);
  const out = ["# written by claude-bottle", insteadOfConfig(sorted).trimEnd()].filter(Boolean);
  // A bind-mounted workspace belongs to the host user's uid, not to `node`:
  // without this git refuses to work in it ("dubious ownership").
  if (workspace) out.push("[safe]", `\tdirectory = ${gitValue(workspace)}`);
  return out.join("\n") + "\n";
}
