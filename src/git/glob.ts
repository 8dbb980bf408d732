// Branch patterns from the manifest (`GitUpstream.branches`), e.g. `main`,
// `feature/*`, `agent/**`. A pattern matches a branch name (without
// `refs/heads/`). `*` matches within one path segment, `**` across segments,
// `?` one character other than `/`. Anything else is literal: branch names
// may contain `.`, `+`, `(`, which must not turn into regex syntax.
export function branchGlobToRegExp(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        // `a/**/b` should also match `a/b`: swallow the following slash.
        if (pattern[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else {
          re += ".*";
        }
      } else {
        re += "[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else {
      re += c.replace(/[\\^$.|+()[\]{}]/g, "\\$&");
    }
  }
  return new RegExp(re + "$");
}

export function branchMatches(patterns: readonly string[], branch: string): boolean {
  return patterns.some((p) => branchGlobToRegExp(p).test(branch));
}
