// A slug names one bottle run: `<agent>-<5 base36 chars>`. Every resource
// (state dir, container or machine name, labels) carries it, so listing and
// cleanup never have to guess. Random rather than derived from the cwd, so two
// runs of one agent in one directory don't collide.

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";
export const SLUG_RE = /^[a-z][a-z0-9-]*-[0-9a-z]{5}$/;

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
