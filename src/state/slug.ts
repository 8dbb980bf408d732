// A slug names one bottle run: `<agent>-<5 base36 chars>`. Every resource
// (state dir, container or machine name, labels) carries it, so listing and
// cleanup never have to guess. Random rather than derived from the cwd, so two
// runs of one agent in one directory don't collide.

import { UserError } from "../errors.ts";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";
export const SLUG_RE = /^[a-z][a-z0-9-]*-[0-9a-z]{5}$/;
// An agent name is at most 64 characters (manifest/schema.ts), plus "-" and the suffix.
const SLUG_MAX = 80;

// The one check of a slug from the command line, before it becomes a path
// under <home>/state or a container name: anything but the slug shape (e.g.
// "../..") is refused before it gets near rm -rf. A usage error: exit 2.
export function checkSlug(slug: string): string {
  if (!SLUG_RE.test(slug) || slug.length > SLUG_MAX) {
    throw new UserError(`'${slug.slice(0, 40).replace(/[^\x20-\x7e]/g, "?")}' is not a bottle slug (like agent-ab12c); 'claude-bottle ls' lists them`, 2);
  }
  return slug;
}

export function randomSuffix(random: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n))): string {
  let out = "";
  while (out.length < 5) {
    for (const b of random(8)) {
      // Rejection sampling keeps every character equally likely (252 = 7 * 36).
      if (b < 252 && out.length < 5) out += ALPHABET[b % 36];
    }
  }
  return out;
}

export function makeSlug(agent: string, random?: (n: number) => Uint8Array): string {
  return `${agent}-${randomSuffix(random)}`;
}
