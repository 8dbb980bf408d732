import * as z from "../zod.ts";
import { UserError } from "../errors.ts";
import { DOOR_TOKEN } from "./door.ts";
import type { GateSecrets } from "./types.ts";

// The one JSON document the gate (and its supervisor) read on stdin: the
// credentials, the bottle's secret values, and the launcher's overrides
// (types.ts GateSecrets). Read strictly; never echoed, it holds secrets.
// Apart from the gate's server so the supervisor reads it without loading
// the gate.

const secretsSchema = z.object({
  credentials: z.record(z.string(), z.string()),
  secrets: z.array(z.object({ name: z.string(), value: z.string() })),
  upstream: z.optional(z.strictObject({ hosts: z.optional(z.record(z.string(), z.string())), ca: z.optional(z.string()) })),
  door: z.optional(
    z.strictObject({
      listen: z.strictObject({ host: z.string().check(z.minLength(1)), port: z.int().check(z.minimum(1), z.maximum(65535)) }),
      token: z.string().check(z.regex(DOOR_TOKEN)),
    }),
  ),
});

export async function readSecrets(stream: ReadableStream<Uint8Array>): Promise<GateSecrets> {
  const text = await new Response(stream).text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Never echo the input: it holds secrets.
    throw new UserError("the gate expects one JSON GateSecrets document on stdin");
  }
  const r = secretsSchema.safeParse(json);
  if (!r.success) throw new UserError(`GateSecrets on stdin: ${r.error.issues[0]!.path.join(".")}: ${r.error.issues[0]!.message}`);
  return r.data;
}
