import { GUEST_WORKSPACE } from "../backends/guest.ts";

// Pure: the one exec, as the agent, that finds the work of a `copy`
// workspace that is not on the host, at the end of a session (before the
// bottle is removed), and prints it as a git bundle. The host side is
// src/launch/save-work.ts.
//
// "Not on the host": commits on any branch or tag (and a detached HEAD) not
// reachable from the base tips (the host repository's ref tips, given on
// stdin one object id a line; ids the copy does not have are dropped), plus
// what is not committed at all (modified, deleted and untracked-not-ignored
// files), captured as one commit on top of HEAD made with a temporary index
// so the agent's own index and refs are left as they were. Two temporary
// refs name those two in the bundle; the trap deletes them.
//
// Bottle.run hands stdout back as text, so the bundle goes out as base64
// after one header line (parsed by parseSaveOutput below); its size is
// checked against the cap before any of it is printed, so nothing partial
// ever leaves. The temporary files live in the repository's .git, on the
// workspace's disk, not in /tmp (a bundle may be large).
//
// Values go in as arguments ("$1"…), never spliced into the script text.
const SCRIPT = `set -e
cd "$1" 2>/dev/null || { echo "claude-bottle-save none"; exit 0; }
if [ "$(git rev-parse --is-inside-work-tree 2>/dev/null)" != true ]; then echo "claude-bottle-save none"; exit 0; fi
cd "$(git rev-parse --show-toplevel)"
gd=$(git rev-parse --absolute-git-dir)
tmp=$(mktemp -d "$gd/claude-bottle-save.XXXXXX")
trap 'git update-ref -d refs/claude-bottle/uncommitted 2>/dev/null; git update-ref -d refs/claude-bottle/detached-head 2>/dev/null; rm -rf "$tmp"' EXIT
git cat-file --batch-check='%(objectname) %(objecttype)' | while read -r id type; do
  case "$type" in commit|tag) echo "^$id" ;; esac
done > "$tmp/not"
export GIT_INDEX_FILE="$tmp/index"
cp "$gd/index" "$GIT_INDEX_FILE" 2>/dev/null || :
unreadable=0
git add -A --ignore-errors >/dev/null 2>"$tmp/err" || unreadable=1
tree=$(git write-tree)
unset GIT_INDEX_FILE
head=$(git rev-parse -q --verify 'HEAD^{commit}' 2>/dev/null || :)
if [ -n "$head" ]; then base=$(git rev-parse "$head^{tree}"); else base=$(git hash-object -t tree /dev/null); fi
wip=0
if [ "$tree" != "$base" ]; then
  export GIT_AUTHOR_NAME=claude-bottle GIT_AUTHOR_EMAIL=claude-bottle@bottle.internal
  export GIT_COMMITTER_NAME=claude-bottle GIT_COMMITTER_EMAIL=claude-bottle@bottle.internal
  msg="claude-bottle: work not committed in $3 when its bottle was removed"
  if [ -n "$head" ]; then c=$(git commit-tree --no-gpg-sign -p "$head" -m "$msg" "$tree"); else c=$(git commit-tree --no-gpg-sign -m "$msg" "$tree"); fi
  git update-ref refs/claude-bottle/uncommitted "$c"
  wip=1
fi
if [ -n "$head" ] && ! git symbolic-ref -q HEAD >/dev/null; then git update-ref refs/claude-bottle/detached-head "$head"; fi
git for-each-ref --format='%(refname)' refs/heads refs/tags refs/claude-bottle > "$tmp/revs"
if [ ! -s "$tmp/revs" ]; then echo "claude-bottle-save none"; exit 0; fi
cat "$tmp/not" >> "$tmp/revs"
n=$(git rev-list --count --stdin < "$tmp/revs")
if [ "$n" -eq 0 ]; then echo "claude-bottle-save none"; exit 0; fi
git bundle create "$tmp/bundle" --stdin < "$tmp/revs" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
size=$(wc -c < "$tmp/bundle")
if [ "$size" -gt "$2" ]; then echo "claude-bottle-save too-big $size"; exit 0; fi
echo "claude-bottle-save bundle $n $wip $unreadable $size"
base64 < "$tmp/bundle"
`;

// A bundle past this is not kept (and, since it crosses as base64 text,
// the host holds about 2.4 times it in memory while writing it out).
export const SAVE_CAP_BYTES = 256 * 1024 * 1024;

// The most the save step may print for a bundle of `capBytes`: its header
// line and the base64 (76 characters a line); past it, Bottle.run stops the
// step (what the bottle prints is its own to choose: a git filter of the
// agent's could print without end).
export function saveOutputLimit(capBytes: number): number {
  return Math.ceil((Math.ceil(capBytes / 3) * 4 * 77) / 76) + 4096;
}

export function saveWorkArgv(slug: string, capBytes: number = SAVE_CAP_BYTES, dir: string = GUEST_WORKSPACE): string[] {
  return ["sh", "-c", SCRIPT, "sh", dir, String(capBytes), slug];
}

// The base tips as the script reads them: object ids only (anything else
// from a host `git for-each-ref` is dropped), deduplicated.
export function baseTipsInput(ids: Iterable<string>): string {
  const ok = [...new Set([...ids].map((s) => s.trim()).filter((s) => /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(s)))];
  return ok.map((s) => s + "\n").join("");
}

export type SaveOutput =
  | { kind: "none" }
  | { kind: "too-big"; size: number }
  | { kind: "bundle"; commits: number; uncommitted: boolean; unreadable: boolean; bundle: Buffer }
  | { kind: "bad"; why: string };

// The script's stdout, read back. The agent could have changed what git
// runs in its workspace (hooks, fsmonitor), so nothing here is trusted
// beyond its shape: numbers are numbers, the bundle starts as a bundle and
// is as long as the header says.
export function parseSaveOutput(stdout: string, capBytes: number = SAVE_CAP_BYTES): SaveOutput {
  const nl = stdout.indexOf("\n");
  const head = (nl < 0 ? stdout : stdout.slice(0, nl)).trim().split(" ");
  if (head[0] !== "claude-bottle-save") return { kind: "bad", why: "no answer from the save step" };
  if (head[1] === "none" && head.length === 2) return { kind: "none" };
  const num = (s: string | undefined) => (s !== undefined && /^[0-9]{1,15}$/.test(s) ? Number(s) : NaN);
  if (head[1] === "too-big" && head.length === 3 && num(head[2]) >= 0) return { kind: "too-big", size: num(head[2]) };
  if (head[1] !== "bundle" || head.length !== 6) return { kind: "bad", why: "an answer of the wrong shape from the save step" };
  const [commits, wip, unreadable, size] = [num(head[2]), num(head[3]), num(head[4]), num(head[5])];
  if (![commits, wip, unreadable, size].every(Number.isFinite) || size > capBytes) return { kind: "bad", why: "an answer of the wrong shape from the save step" };
  const bundle = Buffer.from(stdout.slice(nl + 1), "base64"); // line breaks are skipped
  if (bundle.length !== size || !/^# v[23] git bundle\n/.test(bundle.subarray(0, 20).toString("latin1"))) {
    return { kind: "bad", why: "the bundle did not arrive whole" };
  }
  return { kind: "bundle", commits: wip === 1 ? commits - 1 : commits, uncommitted: wip === 1, unreadable: unreadable === 1, bundle };
}
