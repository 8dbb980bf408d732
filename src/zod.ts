import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";

// zod's mini build: the same library, core and checks as `zod`, with a
// functional API (z.optional(s), s.check(z.maxLength(n))) instead of
// methods on every schema. Loading `zod` and building the manifest schema
// with it cost each process about 11 ms of CPU at start-up (measured on bun
// 1.4.4, compiled: up, exec, the gate and its supervisor all pay it); the
// mini build costs about 1. Its messages are the English ones `zod` loads
// by default, set here once for every schema.
z.config(en());

export { z };
