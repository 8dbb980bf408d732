// @peculiar/x509 pulls in tsyringe, which refuses to load unless the
// `reflect-metadata` API exists. It only needs define/get metadata on
// classes, so a few lines over a WeakMap do instead of another dependency.
// Import this module before @peculiar/x509 (x509.ts does).

type Store = Map<string | symbol | undefined, Map<unknown, unknown>>;
const stores = new WeakMap<object, Store>();

function ownMap(target: object, prop: string | symbol | undefined, create: boolean) {
  let s = stores.get(target);
  if (!s) {
    if (!create) return undefined;
    s = new Map();
    stores.set(target, s);
  }
  let m = s.get(prop);
  if (!m && create) {
    m = new Map();
    s.set(prop, m);
  }
  return m;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== "function") {
  const getOwnMetadata = (key: unknown, target: object, prop?: string | symbol) =>
    ownMap(target, prop, false)?.get(key);
  R.defineMetadata = (key: unknown, value: unknown, target: object, prop?: string | symbol) => {
    ownMap(target, prop, true)!.set(key, value);
  };
  R.getOwnMetadata = getOwnMetadata;
  R.getMetadata = (key: unknown, target: object, prop?: string | symbol) => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t)) {
      const m = ownMap(t, prop, false);
      if (m && m.has(key)) return m.get(key);
    }
    return undefined;
  };
  R.hasMetadata = (key: unknown, target: object, prop?: string | symbol) =>
    (R.getMetadata as (k: unknown, t: object, p?: string | symbol) => unknown)(key, target, prop) !== undefined;
  R.metadata = (key: unknown, value: unknown) => (target: object, prop?: string | symbol) =>
    (R.defineMetadata as (k: unknown, v: unknown, t: object, p?: string | symbol) => void)(key, value, target, prop);
}

export {};
