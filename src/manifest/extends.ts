import { UserError } from "../errors.ts";
import type { BottleEntry } from "./catalog.ts";
import type { BottleManifest } from "./schema.ts";

// `extends:` for bottles. Merge rules (child = the extending bottle):
//   env:        merged per key, the child's entry wins
//   lists:      replaced as a whole (egress, git): a child that lists routes
//               means exactly those, not "those plus whatever the parent had"
//   other keys: the child's value wins when it sets one

export function mergeBottle(parent: BottleManifest, child: BottleManifest): BottleManifest {
  const out: BottleManifest = { ...parent };
  for (const [k, v] of Object.entries(child) as [keyof BottleManifest, unknown][]) {
    if (v === undefined || k === "extends") continue;
    (out as Record<string, unknown>)[k] = v;
  }
  if (parent.env || child.env) out.env = { ...(parent.env ?? {}), ...(child.env ?? {}) };
  delete out.extends;
  return out;
}

function available(bottles: Map<string, BottleEntry>): string {
  return [...bottles.keys()].sort().join(", ");
}

// The fully merged bottle, walking the `extends` chain up to its root.
export function resolveBottle(name: string, bottles: Map<string, BottleEntry>): BottleManifest {
  const chain: string[] = [];
  let cur = bottles.get(name);
  if (!cur) throw new UserError(`bottle '${name}' does not exist; bottles: ${available(bottles)}`);
  const layers: BottleManifest[] = [];
  for (;;) {
    chain.push(cur.name);
    layers.push(cur.manifest);
    const parentName = cur.manifest.extends;
    if (parentName === undefined) break;
    if (parentName === cur.name) {
      throw new UserError(`bottle '${cur.name}' (${cur.source}) extends itself; remove 'extends: ${parentName}'`);
    }
    if (chain.includes(parentName)) {
      const start = chain.indexOf(parentName);
      const cycle = [...chain.slice(start), parentName].join(" -> ");
      throw new UserError(`bottles extend each other in a cycle: ${cycle} (${cur.source}); remove one 'extends'`);
    }
    const parent = bottles.get(parentName);
    if (!parent) {
      throw new UserError(
        `bottle '${cur.name}' (${cur.source}) extends '${parentName}', which does not exist; bottles: ${available(bottles)}`,
      );
    }
    cur = parent;
  }
  // Apply from the root down so each child overrides its parent.
  let merged: BottleManifest = {};
  for (let i = layers.length - 1; i >= 0; i--) merged = mergeBottle(merged, layers[i]!);
  return merged;
}
