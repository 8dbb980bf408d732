// How refs map between the bottle's view (the mirror's refs/heads, refs/tags)
// and the real upstream. Pure.
//
// The mirror fetches the upstream into a hidden namespace, refs/upstream/*
// (hidden from clients with transfer.hideRefs), and derives what the bottle
// sees from it. For an ordinary upstream that is the identity. For the
// workspace (the host repository) the bottle's pushes land under
// refs/heads/bottle/<slug>/<branch> so they never touch the user's own
// branches; the bottle sees the host branches, overlaid by its own pushed
// branches under their short names (so a second `git push` of the same
// branch is a fast-forward of what it pushed before), and never sees other
// bottles' namespaces.

export const UPSTREAM_NS = "refs/upstream/";

export type MirrorMode = { kind: "remote" } | { kind: "workspace"; slug: string };

export function bottleNamespace(slug: string): string {
  return `refs/heads/bottle/${slug}/`;
}

// Where a ref pushed by the bottle goes in the upstream.
export function destinationRef(ref: string, mode: MirrorMode): string {
  if (mode.kind === "workspace" && ref.startsWith("refs/heads/")) {
    return bottleNamespace(mode.slug) + ref.slice("refs/heads/".length);
  }
  return ref;
}

// The mirror's copy (as of the last refresh) of an upstream ref.
export function trackingRef(upstreamRef: string): string {
  if (!upstreamRef.startsWith("refs/")) throw new Error(`not a full ref name: ${upstreamRef}`);
  return UPSTREAM_NS + upstreamRef.slice("refs/".length);
}

// upstream refs (full names as on the upstream) -> refs the bottle sees.
export function mirrorView(upstream: ReadonlyMap<string, string>, mode: MirrorMode): Map<string, string> {
  const view = new Map<string, string>();
  const own: [string, string][] = [];
  for (const [ref, oid] of upstream) {
    if (ref.startsWith("refs/tags/")) {
      view.set(ref, oid);
      continue;
    }
    if (!ref.startsWith("refs/heads/")) continue;
    if (mode.kind === "workspace" && ref.startsWith("refs/heads/bottle/")) {
      const ns = bottleNamespace(mode.slug);
      if (ref.startsWith(ns) && ref.length > ns.length) own.push(["refs/heads/" + ref.slice(ns.length), oid]);
      continue;
    }
    view.set(ref, oid);
  }
  for (const [ref, oid] of own) view.set(ref, oid);
  return view;
}

// Commands for `git update-ref --stdin` that turn `current` into `desired`.
export function syncCommands(current: ReadonlyMap<string, string>, desired: ReadonlyMap<string, string>): string[] {
  const cmds: string[] = [];
  for (const [ref, oid] of current) {
    if (!desired.has(ref)) cmds.push(`delete ${ref} ${oid}`);
  }
  for (const [ref, oid] of desired) {
    const cur = current.get(ref);
    if (cur !== oid) cmds.push(cur === undefined ? `create ${ref} ${oid}` : `update ${ref} ${oid} ${cur}`);
  }
  return cmds;
}

// `git for-each-ref --format='%(objectname) %(refname)'` output -> map.
export function parseRefList(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line) continue;
    const sp = line.indexOf(" ");
    if (sp < 0) continue;
    m.set(line.slice(sp + 1), line.slice(0, sp));
  }
  return m;
}
