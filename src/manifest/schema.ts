import * as z from "../zod.ts";
import { parsePrivateEntry } from "./private-address.ts";

// The manifest schema: the single source of truth for which keys a bottle or
// an agent may have. Every object is strict, so an unknown key is an error
// (with a did-you-mean computed by the loader from these shapes).

const hostPattern = z.string().check(z.minLength(1), z.maxLength(253), z.regex(/^(\*\.)?[A-Za-z0-9\u0080-\uffff._:[\]-]+$/, "must be a host name, `*.domain`, or an IP literal"));

const method = z.pipe(
  z.string().check(z.regex(/^[A-Za-z]+$/, "must be an HTTP method such as GET")),
  z.transform((m: string) => m.toUpperCase()),
);

// `dlp: on|off`. YAML 1.1 readers turn on/off into booleans, so accept both.
const onOff = z.pipe(
  z.union([z.enum(["on", "off"]), z.boolean()]),
  z.transform((v: "on" | "off" | boolean) => (v === true || v === "on" ? "on" : "off") as "on" | "off"),
);

const envVarName = z.string().check(z.maxLength(128), z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"));

export const authSchema = z.strictObject({
  // Header that carries the credential; `Authorization` unless the API wants
  // something else (Anthropic API keys go in `x-api-key` with no scheme).
  header: z._default(z.string().check(z.maxLength(128), z.regex(/^[A-Za-z0-9-]+$/, "must be an HTTP header name")), "Authorization"),
  // Prefix before the token, e.g. `Bearer`, `token`; empty for none.
  scheme: z._default(z.string().check(z.maxLength(32), z.regex(/^[A-Za-z0-9._-]*$/, "must be a word such as Bearer, or empty")), "Bearer"),
  // Host environment variable that holds the real credential. The value
  // stays on the host: the bottle only ever sees a placeholder.
  token_ref: envVarName,
});

const privateEntry = z.string().check(
  z.maxLength(64),
  z.superRefine((v: string, ctx) => {
    const r = parsePrivateEntry(v);
    if ("error" in r) ctx.addIssue({ code: "custom", message: r.error });
  }),
);

export const egressRouteSchema = z.strictObject({
  host: hostPattern,
  ports: z.optional(z.array(z.int().check(z.minimum(1), z.maximum(65535))).check(z.minLength(1), z.maxLength(64))),
  methods: z.optional(z.array(method).check(z.minLength(1), z.maxLength(16))),
  paths: z.optional(z.array(z.string().check(z.maxLength(2048), z.startsWith("/", "must start with /"))).check(z.minLength(1), z.maxLength(256))),
  tls: z._default(z.enum(["terminate", "passthrough"]), "terminate"),
  dlp: z._default(onOff, "on"),
  auth: z.optional(authSchema),
  // Private, loopback and link-local upstream addresses are refused after DNS
  // resolution unless a route explicitly opts in (SSRF / DNS rebinding): a
  // list names the ones it may reach (private-address.ts); `true` opens them
  // all and is for an exact host only (refused below on a wildcard, where any
  // name the bottle makes up would reach every private address).
  allow_private: z._default(z.union([z.boolean(), z.array(privateEntry).check(z.minLength(1), z.maxLength(64))]), false),
  // git's receive-pack (a `git push` over https) is refused on egress
  // routes: pushes go through git.bottle.internal. `scan` lets this route
  // take them, and the gate reads the packfile and scans every object.
  git_push: z.optional(z.literal("scan")),
}).check(z.superRefine((r, ctx) => {
  if (r.git_push === "scan" && (r.tls === "passthrough" || r.dlp === "off")) {
    ctx.addIssue({
      code: "custom",
      path: ["git_push"],
      message: "scan needs a route the gate reads: tls: terminate (the default) and dlp: on",
    });
  }
  if (r.allow_private === true && r.host.startsWith("*.")) {
    ctx.addIssue({
      code: "custom",
      path: ["allow_private"],
      message:
        "true on a wildcard route would let any name under it reach every private and loopback address; name the addresses it may reach instead, e.g. allow_private: [\"10.0.0.5\", \"192.168.1.0/24:5432\"]",
    });
  }
}));

export const gitUpstreamSchema = z.strictObject({
  name: z.string().check(z.maxLength(64), z.regex(/^[a-z][a-z0-9._-]*$/, "must be lowercase letters, digits, . _ -")),
  url: z.string().check(z.minLength(1), z.maxLength(2048)),
  identity_file: z.optional(z.string().check(z.minLength(1), z.maxLength(4096))),
  // Pinned ssh host key ("ssh-ed25519 AAAA..."); no trust on first use.
  host_key: z.optional(z.string().check(z.minLength(1), z.maxLength(16384))),
  // Host variable with an https token for the upstream.
  token_ref: z.optional(envVarName),
  branches: z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(256))).check(z.minLength(1), z.maxLength(256))),
  allow_force: z._default(z.boolean(), false),
  allow_delete: z._default(z.boolean(), false),
});

export const resourcesSchema = z.strictObject({
  cpus: z.optional(z.int().check(z.minimum(1), z.maximum(64))),
  // MiB.
  memory: z.optional(z.int().check(z.minimum(256), z.maximum(1024 * 1024))),
});

// Bottle and agent names are file names: lowercase, digits and dashes.
export const MANIFEST_NAME_RE = /^[a-z][a-z0-9-]*$/;
const manifestName = z.string().check(z.maxLength(64), z.regex(MANIFEST_NAME_RE, "must be a name like my-bottle (a-z, 0-9, -)"));

// An env value is a string: "?" / "?prompt" = secret asked on the tty,
// "${HOST_VAR}" = copied from the host, anything else = literal.
export const envSchema = z
  .record(envVarName, z.string().check(z.maxLength(65536)))
  .check(z.refine((o) => Object.keys(o).length <= 512, "has too many entries (max 512)"));

export const bottleSchema = z.strictObject({
  extends: z.optional(manifestName),
  env: z.optional(envSchema),
  egress: z.optional(z.array(egressRouteSchema).check(z.maxLength(512))),
  git: z.optional(z.array(gitUpstreamSchema).check(z.maxLength(64))),
  image: z.optional(z.string().check(z.minLength(1), z.maxLength(512))),
  resources: z.optional(resourcesSchema),
  supervise: z.optional(z.boolean()),
});

export const agentSchema = z.strictObject({
  bottle: manifestName,
  skills: z.optional(z.array(z.string().check(z.maxLength(128), z.regex(/^[A-Za-z0-9._-]+$/, "must be a skill name (letters, digits, . _ -)"))).check(z.maxLength(256))),
  workspace: z.optional(z.enum(["copy", "mount", "none"])),
  // Claude Code subagent fields: accepted so one file can serve both tools,
  // and ignored.
  name: z.optional(z.unknown()),
  description: z.optional(z.unknown()),
  model: z.optional(z.unknown()),
  color: z.optional(z.unknown()),
  memory: z.optional(z.unknown()),
});

export type AuthConfig = z.output<typeof authSchema>;
export type EgressRoute = z.output<typeof egressRouteSchema>;
export type GitUpstream = z.output<typeof gitUpstreamSchema>;
export type Resources = z.output<typeof resourcesSchema>;
export type BottleManifest = z.output<typeof bottleSchema>;
export type AgentManifest = z.output<typeof agentSchema>;
