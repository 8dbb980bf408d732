// "did you mean" suggestions for unknown keys and names. A small edit
// distance is enough: manifests have a handful of keys, and a typo is usually
// one or two characters away from the intended one.

export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  // Bound the work: names in manifests are short; anything longer than this
  // is not a typo of a known key anyway.
  const x = a.slice(0, 64);
  const y = b.slice(0, 64);
  // Optimal string alignment: a swap of two neighbours ("hots") counts as one
  // edit, the most common typo of all.
  let prev2: number[] = [];
  let prev = Array.from({ length: y.length + 1 }, (_, i) => i);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      cur[j] = v;
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[y.length]!;
}

// The allowed names closest to `word`, best first. Only names within a
// distance that still looks like a typo are returned; an empty list means
// "nothing close", and callers then list every allowed name instead.
export function closest(word: string, allowed: readonly string[], max = 3): string[] {
  const w = word.toLowerCase();
  const limit = Math.max(2, Math.floor(w.length / 3));
  return allowed
    .map((name) => {
      const n = name.toLowerCase();
      // A prefix or substring match ("token" for "token_ref") is as good as a typo.
      const d = n.startsWith(w) || w.startsWith(n) ? Math.min(1, editDistance(w, n)) : editDistance(w, n);
      return { name, d };
    })
    .filter((c) => c.d <= limit)
    .sort((p, q) => p.d - q.d || p.name.localeCompare(q.name))
    // Only the best distance: "host" for "hots", not "host" or "ports".
    .filter((c, _, all) => c.d === all[0]!.d)
    .slice(0, max)
    .map((c) => c.name);
}
