import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import type { VhostHandler } from "../gate/types.ts";
import type { VhostFactory } from "../gate/vhosts/index.ts";
import type { GitUpstream } from "../manifest/schema.ts";
import { selfCommand } from "../self.ts";
import { paths } from "../state/paths.ts";
import { accessEnv, checkAccess, knownHostsText, TOKEN_ENV, transportOf, type UpstreamAccess } from "./access.ts";
import { serveCgi, cgiEnv } from "./cgi.ts";
import { baseEnv } from "./exec.ts";
import { WORKSPACE_UPSTREAM } from "./gitconfig.ts";
import { HOOK_CONFIG_ENV, HOOK_DLP_ENV, type HookConfig, type HookDlp } from "./hook-config.ts";
import { ensureMirror, refreshMirror, type MirrorSpec } from "./mirror.ts";
import type { MirrorMode } from "./refs.ts";

// git.bottle.internal: git smart HTTP over the bottle's per-upstream bare
// mirrors (<state>/git/<name>.git), served by `git http-backend`.
//   GET  /<name>.git/info/refs?service=git-upload-pack|git-receive-pack
//        refreshes the mirror from the upstream first (fails loudly when the
//        upstream is unreachable: never stale data);
//   POST /<name>.git/git-upload-pack   fetch / clone
//   POST /<name>.git/git-receive-pack  push: the mirror's pre-receive hook
//        (`claude-bottle hook pre-receive`) scans it and forwards it upstream.
// Nothing else (no dumb HTTP, no other paths).

export interface GitWorkspace {
  path: string; // the host repository `up` ran in
  branches?: string[];
  allow_force?: boolean;
  allow_delete?: boolean;
}

export interface GitVhostOptions {
  stateDir: string;
  slug: string;
  upstreams: readonly GitUpstream[];
  // The host repository, served as the implicit upstream `workspace`.
  workspace?: string | GitWorkspace | null;
  // Host variables holding credentials: token_ref -> value (GateSecrets.credentials).
  secretsEnv: Record<string, string | undefined>;
  // Values the DLP rules block (the bottle's secrets and placeholders).
  dlp?: HookDlp;
  // argv prefix of this program for the hook (default selfCommand()).
  hookCommand?: readonly string[];
  // Environment for git children (default: an allowlist of the gate's own).
  env?: Record<string, string>;
  log?: (msg: string) => void;
}

interface Served {
  spec: MirrorSpec;
  access: UpstreamAccess;
  hook: HookConfig;
  ready: Promise<void> | null;
  lock: Promise<void>;
}

function plain(status: number, text: string): Response {
  return new Response(text.endsWith("\n") ? text : text + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-cache" },
  });
}

export function createGitVhost(opts: GitVhostOptions): VhostHandler {
  const gitRoot = join(opts.stateDir, "git");
  mkdirSync(gitRoot, { recursive: true, mode: 0o700 });
  const hookCommand = opts.hookCommand ?? selfCommand();
  const env = opts.env ?? baseEnv();
  const log = opts.log ?? (() => {});
  const dlp: HookDlp = opts.dlp ?? { secrets: [], placeholders: [] };
  const tokens = Object.values(opts.secretsEnv).filter((v): v is string => typeof v === "string" && v.length > 0);
  const served = new Map<string, Served>();

  const add = (u: GitUpstream, mode: MirrorMode) => {
    if (served.has(u.name)) throw new UserError(`git upstream name '${u.name}' is used twice; names must be unique`);
    const access: UpstreamAccess = {
      name: u.name,
      url: u.url,
      identityFile: u.identity_file,
      tokenRef: u.token_ref,
    };
    checkAccess(access, u.host_key);
    if (transportOf(u.url) === "ssh") {
      const file = join(gitRoot, `${u.name}.known_hosts`);
      writeFileSync(file, knownHostsText(u.host_key!, u.name), { mode: 0o600 });
      access.knownHostsFile = file;
    }
    const hook: HookConfig = {
      access,
      mode,
      audit: { file: paths.audit(opts.stateDir), bottle: opts.slug },
      rules: {
        branches: u.branches,
        allow_force: u.allow_force,
        allow_delete: u.allow_delete,
        workspace: mode.kind === "workspace",
      },
    };
    served.set(u.name, {
      spec: { name: u.name, url: u.url, gitDir: join(gitRoot, `${u.name}.git`), mode },
      access,
      hook,
      ready: null,
      lock: Promise.resolve(),
    });
  };

  if (opts.workspace) {
    const ws = typeof opts.workspace === "string" ? { path: opts.workspace } : opts.workspace;
    if (opts.upstreams.some((u) => u.name === WORKSPACE_UPSTREAM)) {
      throw new UserError(`git upstream name '${WORKSPACE_UPSTREAM}' is reserved for the local workspace; rename it in the bottle manifest`);
    }
    add(
      {
        name: WORKSPACE_UPSTREAM,
        url: ws.path,
        branches: ws.branches,
        allow_force: ws.allow_force ?? false,
        allow_delete: ws.allow_delete ?? false,
      },
      { kind: "workspace", slug: opts.slug },
    );
  }
  for (const u of opts.upstreams) add(u, { kind: "remote" });

  const upstreamEnv = (s: Served): Record<string, string> => ({
    ...env,
    ...accessEnv(s.access, s.access.tokenRef ? opts.secretsEnv[s.access.tokenRef] : undefined),
  });

  // One request at a time touches a mirror's refs (refresh, push).
  const locked = async <T>(s: Served, fn: () => Promise<{ value: T; done: Promise<void> }>): Promise<T> => {
    const prev = s.lock;
    let release!: () => void;
    s.lock = new Promise<void>((r) => (release = r));
    await prev;
    try {
      const { value, done } = await fn();
      done.then(release, release);
      return value;
    } catch (e) {
      release();
      throw e;
    }
  };

  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const m = /^\/([a-z][a-z0-9._-]*?)\.git(\/info\/refs|\/git-upload-pack|\/git-receive-pack)$/.exec(url.pathname);
    const s = m ? served.get(m[1]!) : undefined;
    if (!m || !s) {
      return plain(404, `blocked: no git upstream at ${url.pathname}; known: ${[...served.keys()].map((n) => `/${n}.git`).join(", ") || "none"}`);
    }
    const what = m[2]!;
    const service = what === "/info/refs" ? url.searchParams.get("service") : what.slice(1);
    if (service !== "git-upload-pack" && service !== "git-receive-pack") {
      return plain(403, "blocked: only git smart HTTP is served here (dumb HTTP is not)");
    }
    if ((what === "/info/refs" && req.method !== "GET") || (what !== "/info/refs" && req.method !== "POST")) {
      return plain(405, `blocked: ${req.method} not allowed on ${url.pathname}`);
    }

    try {
      s.ready ??= ensureMirror(s.spec, hookCommand, env);
      await s.ready;
    } catch (e) {
      s.ready = null;
      log(`git: mirror '${s.spec.name}': ${(e as Error).message}`);
      return plain(500, `gate: cannot prepare the git mirror for '${s.spec.name}'`);
    }

    const run = async (): Promise<{ value: Response; done: Promise<void> }> => {
      if (what === "/info/refs") {
        try {
          await refreshMirror(s.spec, upstreamEnv(s), tokens);
        } catch (e) {
          const msg = e instanceof UserError ? e.message : `cannot refresh '${s.spec.name}'`;
          log(`git: ${msg}${e instanceof UserError ? "" : ": " + (e as Error).message}`);
          // git prints a text/plain error body to the user ("remote: ...").
          return { value: plain(502, `claude-bottle gate: ${msg}`), done: Promise.resolve() };
        }
      }
      let childEnv = cgiEnv(req, { projectRoot: gitRoot, pathInfo: url.pathname, remoteUser: `bottle-${opts.slug}` }, env);
      if (service === "git-receive-pack") {
        childEnv = {
          ...childEnv,
          [HOOK_CONFIG_ENV]: JSON.stringify(s.hook),
          [HOOK_DLP_ENV]: JSON.stringify(dlp),
        };
        const token = s.access.tokenRef ? opts.secretsEnv[s.access.tokenRef] : undefined;
        if (token) childEnv[TOKEN_ENV] = token;
      }
      const { response, done } = await serveCgi(["git", "http-backend"], childEnv, req, (t) =>
        log(`git http-backend (${s.spec.name}): ${t.split(tokens.length ? new RegExp(tokens.map(escapeRe).join("|"), "g") : /$^/).join("[redacted]")}`),
      );
      return { value: response, done };
    };
    // Upload-pack POSTs only read objects: no need to wait for a push.
    if (what === "/git-upload-pack") return (await run()).value;
    return locked(s, run);
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// For the gate's vhost registry (src/gate/vhosts/index.ts), registered as
// GIT_VHOST with audit layer "git" by src/vhosts.ts.
export const gitVhostFactory: VhostFactory = (ctx) => {
  const workspace = ctx.policy.git_workspace ?? null;
  if (ctx.policy.git.length === 0 && !workspace) return null;
  return createGitVhost({
    stateDir: ctx.stateDir,
    slug: ctx.policy.slug,
    upstreams: ctx.policy.git,
    workspace,
    secretsEnv: ctx.secrets.credentials,
    dlp: {
      // The real credentials too: pushing one into a repository is a leak.
      secrets: [
        ...ctx.secrets.secrets,
        ...Object.entries(ctx.secrets.credentials).map(([name, value]) => ({ name, value })),
      ],
      placeholders: Object.entries(ctx.policy.placeholders).map(([name, value]) => ({ name, value })),
    },
    log: ctx.log,
  });
};
