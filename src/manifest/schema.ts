import { z } from "zod";
import { parsePrivateEntry } from "./private-address.ts";

// The manifest schema: the single source of truth for which keys a bottle or
// an agent may have. Every object is strict, so an unknown key is an error
// (with a did-you-mean computed by the loader from these shapes).

const hostPattern = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\*\.)?[A-Za-z0-9\u0080-\uffff._:[\]-]+$/, "must be a host name, `*.domain`, or an IP literal");

const method = z
  .string()
  .regex(/^[A-Za-z]+$/, "must be an HTTP method such as GET")
  .transform((m) => m.toUpperCase());

// `dlp: on|off`. YAML 1.1 readers turn on/off into booleans, so accept both.
const onOff = z
  .union([z.enum(["on", "off"]), z.boolean()])
  .transform((v) => (v === true || v === "on" ? "on" : "off") as "on" | "off");

const envVarName = z.string().max(128).regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

export const authSchema = z.strictObject({
  // Header that carries the credential; `Authorization` unless the API wants
  // something else (Anthropic API keys go in `x-api-key` with no scheme).
  header: z.string().max(128).regex(/^[A-Za-z0-9-]+$/, "must be an HTTP header name").default("Authorization"),
  // Prefix before the token, e.g. `Bearer`, `token`; empty for none.
  scheme: z.string().max(32).regex(/^[A-Za-z0-9._-]*$/, "must be a word such as Bearer, or empty").default("Bearer"),
  // Host environment variable that holds the real credential. The value
  // stays on the host: the bottle only ever sees a placeholder.
  token_ref: envVarName,
});

const privateEntry = z
  .string()
  .max(64)
  .superRefine((v, ctx) => {
    const r = parsePrivateEntry(v);
    if ("error" in r) ctx.addIssue({ code: "custom", message: r.error });
  });

export const egressRouteSchema = z.strictObject({
  host: hostPattern,
  ports: z.array(z.number().int().min(1).max(65535)).min(1).max(64).optional(),
  methods: z.array(method).min(1).max(16).optional(),
  paths: z.array(z.string().max(2048).startsWith("/", "must start with /")).min(1).max(256).optional(),
  tls: z.enum(["terminate", "passthrough"]).default("terminate"),
  dlp: onOff.default("on"),
  auth: authSchema.optional(),
  // Private, loopback and link-local upstream addresses are refused after DNS
  // resolution unless a route explicitly opts in (SSRF / DNS rebinding): a
  // list names the ones it may reach (private-address.ts); `true` opens them
  // all and is for an exact host only (refused below on a wildcard, where any
  // name the bottle makes up would reach every private address).
  allow_private: z.union([z.boolean(), z.array(privateEntry).min(1).max(64)]).default(false),
  // git's receive-pack (a `git push` over https) is refused on egress
  // routes: pushes go through git.bottle.internal. `scan` lets this route
  // take them, and the gate reads the packfile and scans every object.
  git_push: z.literal("scan").optional(),
}).superRefine((r, ctx) => {
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
});

export const gitUpstreamSchema = z.strictObject({
  name: z.string().max(64).regex(/^[a-z][a-z0-9._-]*$/, "must be lowercase letters, digits, . _ -"),
  url: z.string().min(1).max(2048),
  identity_file: z.string().min(1).max(4096).optional(),
  // Pinned ssh host key ("ssh-ed25519 AAAA..."); no trust on first use.
  host_key: z.string().min(1).max(16384).optional(),
  // Host variable with an https token for the upstream.
  token_ref: envVarName.optional(),
  branches: z.array(z.string().min(1).max(256)).min(1).max(256).optional(),
  allow_force: z.boolean().default(false),
  allow_delete: z.boolean().default(false),
});

export const resourcesSchema = z.strictObject({
  cpus: z.number().int().min(1).max(64).optional(),
  // MiB.
  memory: z.number().int().min(256).max(1024 * 1024).optional(),
});

// Bottle and agent names are file names: lowercase, digits and dashes.
export const MANIFEST_NAME_RE = /^[a-z][a-z0-9-]*$/;
const manifestName = z.string().max(64).regex(MANIFEST_NAME_RE, "must be a name like my-bottle (a-z, 0-9, -)");

// An env value is a string: "?" / "?prompt" = secret asked on the tty,
// "${HOST_VAR}" = copied from the host, anything else = literal.
export const envSchema = z
  .record(envVarName, z.string().max(65536))
  .refine((o) => Object.keys(o).length <= 512, "has too many entries (max 512)");

export const bottleSchema = z.strictObject({
  extends: manifestName.optional(),
  env: envSchema.optional(),
  egress: z.array(egressRouteSchema).max(512).optional(),
  git: z.array(gitUpstreamSchema).max(64).optional(),
  image: z.string().min(1).max(512).optional(),
  resources: resourcesSchema.optional(),
  supervise: z.boolean().optional(),
});

export const agentSchema = z.strictObject({
  bottle: manifestName,
  skills: z.array(z.string().max(128).regex(/^[A-Za-z0-9._-]+$/, "must be a skill name (letters, digits, . _ -)")).max(256).optional(),
  workspace: z.enum(["copy", "mount", "none"]).optional(),
  // Claude Code subagent fields: accepted so one file can serve both tools,
  // and ignored.
  name: z.unknown().optional(),
  description: z.unknown().optional(),
  model: z.unknown().optional(),
  color: z.unknown().optional(),
  memory: z.unknown().optional(),
});

export type AuthConfig = z.output<typeof authSchema>;
export type EgressRoute = z.output<typeof egressRouteSchema>;
export type GitUpstream = z.output<typeof gitUpstreamSchema>;
export type Resources = z.output<typeof resourcesSchema>;
export type BottleManifest = z.output<typeof bottleSchema>;
export type AgentManifest = z.output<typeof agentSchema>;
