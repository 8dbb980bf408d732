import type { GatePolicy, GateSecrets } from "../gate/types.ts";
import type { Spec } from "../manifest/spec.ts";
import { UserError } from "../errors.ts";
import { RELAY_PORT } from "../backends/guest.ts";
import { TRUST_ENV } from "./trust-env.ts";

// Pure: from a spec and the env values resolved at launch, everything the
// gate and the bottle get. The split is the heart of "secrets never enter
// the bottle":
// - credentials (auth token_ref, git token_ref): real values to the gate on
//   stdin; the bottle sees a placeholder in the same env var name;
// - the bottle's own secret env (prompted or copied from the host): given to
//   the bottle by name (never argv), and to the gate so DLP blocks them;
// - literals: plain non-secret env.

export const RELAY_URL = `http://127.0.0.1:${RELAY_PORT}`;

export interface ResolvedEnv {
  // name -> value for every env entry of the spec.
  values: Record<string, string>;
}

export interface GateInputs {
  policy: GatePolicy;
  secrets: GateSecrets;
  agentEnv: Record<string, string>; // non-secret: may appear on argv
  secretEnv: Record<string, string>; // passed by name, never argv
}

export function proxyEnv(): Record<string, string> {
  return {
    HTTP_PROXY: RELAY_URL,
    HTTPS_PROXY: RELAY_URL,
    http_proxy: RELAY_URL,
    https_proxy: RELAY_URL,
    NO_PROXY: "localhost,127.0.0.1",
    no_proxy: "localhost,127.0.0.1",
    ...TRUST_ENV,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  };
}

export function gateInputs(args: {
  slug: string;
  spec: Spec;
  resolved: ResolvedEnv;
  hostEnv: Record<string, string | undefined>;
  makePlaceholder: (real: string) => string;
  // Placeholders from an earlier run of this slug (resume): reused so the
  // policy and the bottle agree across restarts.
  // `resume`: the policy the gate last ran with. Its placeholders are kept
  // (the bottle already holds them) and so are its routes and git rules:
  // they include every live change (`allow`, `deny`, approved requests).
  previous?: Pick<GatePolicy, "placeholders" | "routes" | "git">;
  // The host git repository of the workspace, served to the bottle as the
  // implicit `workspace` upstream; null when there is none.
  gitWorkspace?: string | null;
}): GateInputs {
  const { spec, resolved, hostEnv } = args;
  const credentials: Record<string, string> = {};
  const placeholders: Record<string, string> = {};
  // An unset token_ref is not an error (the plan warned about it): that
  // route simply gets no credential and the bottle no placeholder for it.
  // Alternatives are common (CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY).
  const have = (ref: string): string | null => {
    const v = hostEnv[ref];
    return v === undefined || v === "" ? null : v;
  };
  for (const r of spec.egress) {
    if (!r.auth) continue;
    const ref = r.auth.token_ref;
    const real = have(ref);
    if (real === null) continue;
    credentials[ref] = real;
    placeholders[ref] ??= args.previous?.placeholders[ref] ?? args.makePlaceholder(real);
  }
  for (const g of spec.git) {
    const real = g.token_ref ? have(g.token_ref) : null;
    if (g.token_ref && real !== null) credentials[g.token_ref] = real;
  }

  const agentEnv: Record<string, string> = {};
  const secretEnv: Record<string, string> = {};
  const secretList: { name: string; value: string }[] = [];
  for (const e of spec.env) {
    const v = resolved.values[e.name];
    if (v === undefined) throw new UserError(`env ${e.name} has no value; set it in the manifest or the host environment`);
    if (e.kind === "literal") agentEnv[e.name] = v;
    else {
      secretEnv[e.name] = v;
      if (v.length > 0) secretList.push({ name: e.name, value: v });
    }
  }
  Object.assign(agentEnv, proxyEnv());
  for (const [ref, ph] of Object.entries(placeholders)) {
    // A credential placeholder wins over a manifest env of the same name:
    // the real value must never be what the bottle holds.
    delete secretEnv[ref];
    agentEnv[ref] = ph;
  }
  // Credentials are secrets too: DLP blocks them going anywhere else.
  for (const [ref, real] of Object.entries(credentials)) {
    if (!secretList.some((s) => s.value === real)) secretList.push({ name: ref, value: real });
  }

  return {
    policy: {
      version: 1,
      slug: args.slug,
      routes: args.previous?.routes ?? spec.egress,
      git: args.previous?.git ?? spec.git,
      git_workspace: args.gitWorkspace ?? null,
      supervise: spec.supervise,
      placeholders,
    },
    secrets: { credentials, secrets: secretList },
    agentEnv,
    secretEnv,
  };
}
