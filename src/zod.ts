import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

// zod's mini build: the same library, core and checks as `zod`, with a
// functional API (z.optional(s), s.check(z.maxLength(n))) instead of
// methods on every schema. Loading `zod` and building the manifest schema
// with it cost each process about 11 ms of CPU at start-up (measured on bun
// 1.4.4, compiled: up, exec, the gate and its supervisor all pay it).
// Imported as `import * as z from "../zod.ts"`. Only what we use is
// re-exported by name, so the bundle leaves out the rest of zod (every
// other locale, JSON Schema, ISO formats) instead of loading it in each
// process. Its messages are the English ones `zod` loads by default, set
// here once for every schema.
config(en());

export {
  _default,
  array,
  boolean,
  discriminatedUnion,
  enum,
  int,
  literal,
  looseObject,
  maximum,
  maxLength,
  minimum,
  minLength,
  nullable,
  number,
  object,
  optional,
  pipe,
  record,
  refine,
  regex,
  startsWith,
  strictObject,
  string,
  superRefine,
  transform,
  trim,
  union,
  unknown,
} from "zod/mini";
export type { core, infer, output, ZodMiniType } from "zod/mini";
