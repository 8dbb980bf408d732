import { DiffParser, type Section } from "./diff-parser.ts";

// Scan what a push adds: the added lines of every new commit and every new
// commit message, streamed from `git log -p` through the diff parser into a
// content scanner (the gate's DLP rules), one scanner per file and message so
// a finding is attributed to exactly one file of one commit. Memory stays
// bounded whatever the size of the push: nothing is buffered beyond one pipe
// chunk and the scanner's own window.

export interface ContentFinding {
  rule: string;
  where?: string;
}

export interface ContentScanner {
  push(bytes: Uint8Array): ContentFinding | null;
  end(): ContentFinding | null;
}

export interface PushFinding {
  rule: string;
  // The object it was found in (a commit unless `object` says otherwise).
  commit: string;
  file: string | null; // null: the commit message (or `part`)
  // Found by the object pass (scan-objects.ts): which part of the object,
  // in words with no text of the pusher's ("the author", "the file names").
  part?: string;
  object?: "commit" | "tag" | "tree" | "blob";
}

// Arguments for `git log` that print every commit reachable from the pushed
// tips and not from any ref the mirror already has (upstream snapshot
// included), with only added lines (-U0), merges as combined diffs (--cc, so
// an "evil merge" resolution is scanned too) and binary files as text.
export function logArgs(newOids: readonly string[]): string[] {
  return [
    "-c", "core.quotePath=true",
    "log",
    "--format=format:commit %H%n%w(0,1,1)%B",
    "-p", "--cc", "-U0", "--text", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
    "--no-abbrev-commit",
    ...newOids,
    "--not", "--all",
  ];
}

class Found extends Error {
  constructor(readonly finding: PushFinding) {
    super("found");
  }
}

export async function scanPush(opts: {
  gitDir: string;
  env: Record<string, string>;
  newOids: readonly string[];
  scanner: () => ContentScanner;
}): Promise<PushFinding | null> {
  if (opts.newOids.length === 0) return null;
  let section: Section | null = null;
  let scanner: ContentScanner | null = null;
  const hit = (f: ContentFinding | null) => {
    if (f && section) {
      throw new Found({
        rule: f.rule,
        commit: section.commit,
        file: section.kind === "file" ? section.path : null,
      });
    }
  };
  const parser = new DiffParser({
    begin(s) {
      section = s;
      scanner = opts.scanner();
    },
    data(b) {
      hit(scanner!.push(b));
    },
    end() {
      const s = scanner!;
      scanner = null;
      hit(s.end());
      section = null;
    },
  });

  const proc = Bun.spawn(["git", ...logArgs(opts.newOids)], {
    cwd: opts.gitDir,
    env: opts.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(proc.stderr).text();
  try {
    for await (const chunk of proc.stdout) parser.push(chunk);
    parser.end();
  } catch (e) {
    if (e instanceof Found) {
      proc.kill();
      await proc.exited;
      return e.finding;
    }
    proc.kill();
    throw e;
  }
  const code = await proc.exited;
  if (code !== 0) throw new Error(`git log failed while scanning the push: ${(await stderr).trim().split("\n").pop()}`);
  return null;
}
