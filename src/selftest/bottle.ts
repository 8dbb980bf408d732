import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GUEST_WORKSPACE, RELAY_PORT } from "../backends/guest.ts";
import type { AuditRecord } from "../gate/types.ts";
import { selfCommand } from "../self.ts";
import { readMetadata } from "../state/metadata.ts";
import { paths } from "../state/paths.ts";
import { upSelftestBottle } from "./launch.ts";
import type { SandboxRun } from "./runner.ts";
import { wrapScript } from "./script.ts";
import type { Attack, AttackContext } from "./types.ts";
import { NAMES, WORKSPACE_FILE, worldContext, type World } from "./world.ts";

// A REAL bottle in the escape suite's world, brought up through the same
// launcher `up` runs, with the planted secrets in its env, one credential
// route to the allowed host, the git upstream declared, and the world's
// workspace mounted. Its evidence includes the gate's audit lines.

export interface BottleUnderTest {
  backend: string;
  slug: string;
  stateDir: string;
  ctx: AttackContext;
  run(a: Attack): Promise<SandboxRun>;
  stop(): Promise<void>;
}

export async function startBottle(
  world: World,
  opts: { backend?: string; door?: string; baseImage?: string; log: (line: string) => void },
): Promise<BottleUnderTest> {
  const home = join(world.dir, "home");
  const { secrets, credential } = world;
  const cleanups: (() => void | Promise<void>)[] = [];
  const stop = async () => {
    for (const c of cleanups.splice(0)) {
      try {
        await c();
      } catch {
        // Best effort: `claude-bottle cleanup` finds anything left.
      }
    }
  };
  try {
    // The manifests: bottles only ever come from the home dir, which must
    // be the user's alone (state/home.ts), whatever the umask.
    mkdirSync(paths.bottlesDir(home), { recursive: true, mode: 0o700 });
    mkdirSync(paths.agentsDir(home), { recursive: true, mode: 0o700 });
    const env = secrets.map((s) => `  ${s.name}: "\${${s.name}}"`).join("\n");
    const { httpsPort, httpPort } = world.rx.upstream;
    writeFileSync(
      join(paths.bottlesDir(home), "selftest.md"),
      `---
env:
${env}
egress:
  - host: ${NAMES.allowed}
    ports: [${httpsPort}, ${httpPort}]
    allow_private: ["127.0.0.1:${httpsPort}", "127.0.0.1:${httpPort}"]
    auth: { header: Authorization, scheme: Bearer, token_ref: ${credential.envVar} }
  - host: ${NAMES.other}
    ports: [${httpsPort}]
    allow_private: ["127.0.0.1:${httpsPort}"]
  - host: "*.${NAMES.wild}"
    ports: [${httpsPort}, ${world.rx.loopback.port}]
    allow_private: ["127.0.0.1:${httpsPort}"]
git:
  - name: escape
    url: ${world.gitUpstream}
---
The bottle the escape suite attacks from.
`,
    );
    writeFileSync(join(paths.agentsDir(home), "selftest.md"), "---\nbottle: selftest\nworkspace: mount\n---\nEscape suite.\n");

    const childEnv: Record<string, string> = {
      ...(process.env as Record<string, string>),
      CLAUDE_BOTTLE_HOME: home,
      [credential.envVar]: credential.realValue,
      ...Object.fromEntries(secrets.map((s) => [s.name, s.value])),
    };
    if (opts.baseImage) childEnv.CLAUDE_BOTTLE_BASE_IMAGE = opts.baseImage;
    // The backends read these at each use, in this process.
    const prevEnv = { home: process.env.CLAUDE_BOTTLE_HOME, base: process.env.CLAUDE_BOTTLE_BASE_IMAGE };
    process.env.CLAUDE_BOTTLE_HOME = home;
    if (opts.baseImage) process.env.CLAUDE_BOTTLE_BASE_IMAGE = opts.baseImage;
    cleanups.push(() => {
      if (prevEnv.home === undefined) delete process.env.CLAUDE_BOTTLE_HOME;
      else process.env.CLAUDE_BOTTLE_HOME = prevEnv.home;
      if (prevEnv.base === undefined) delete process.env.CLAUDE_BOTTLE_BASE_IMAGE;
      else process.env.CLAUDE_BOTTLE_BASE_IMAGE = prevEnv.base;
    });

    opts.log("selftest: starting a bottle (this builds the agent image on first use)");
    // The workspace folder is the launch's cwd: `workspace: mount` puts it
    // at /workspace, with the undeclared copy of a secret in it.
    const slug = await upSelftestBottle({
      env: childEnv,
      cwd: world.workspace,
      backend: opts.backend,
      door: opts.door,
      // The gate trusts the recording upstream's CA and resolves its names
      // to the loopback address it listens on (GateSecrets.upstream). The
      // evil name resolves there too: a gate that let it through would
      // deliver to a receiver, not to nowhere.
      // rebind.<wild> is a name under the allowed wildcard that resolves to
      // the host's loopback, whose service listens on a port the wildcard
      // route lists: only the address check (allow_private names the
      // recording upstream's address and port, not that one) stops it.
      upstream: {
        ca: world.rx.upstream.ca.certPem,
        hosts: { [NAMES.allowed]: "127.0.0.1", [NAMES.other]: "127.0.0.1", [NAMES.evil]: "127.0.0.1", [`rebind.${NAMES.wild}`]: "127.0.0.1" },
      },
      log: opts.log,
    });
    cleanups.unshift(async () => {
      await Bun.spawn([...selfCommand(), "down", slug], { env: childEnv, cwd: world.dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" }).exited;
    });
    const stateDir = paths.stateDir(home, slug);
    const meta = readMetadata(stateDir);
    if (!meta) throw new Error(`the selftest bottle ${slug} has no readable metadata (${paths.metadata(stateDir)})`);
    const { getBackend } = await import("../backends/registry.ts");
    const bottle = await (await getBackend(meta.backend)).attach(slug);
    if (!bottle) throw new Error(`the selftest bottle ${slug} is not running`);

    const ctx = worldContext(world, {
      nonce: crypto.randomUUID().replaceAll("-", "").slice(0, 16),
      proxy: `http://127.0.0.1:${RELAY_PORT}`,
      workspaceFilePath: `${GUEST_WORKSPACE}/${WORKSPACE_FILE}`,
    });

    const auditFile = paths.audit(stateDir);
    return {
      backend: meta.backend,
      slug,
      stateDir,
      ctx,
      run: async (a) => {
        const mark = existsSync(auditFile) ? statSync(auditFile).size : 0;
        const exec = await bottle.run(["sh", "-s"], { input: wrapScript(a, ctx), user: a.user });
        return { exec, audit: () => readAuditSince(auditFile, mark) };
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

function readAuditSince(file: string, offset: number): AuditRecord[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file).subarray(offset).toString("utf8");
  return text
    .split("\n")
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        const r = JSON.parse(l) as AuditRecord & { event?: string };
        // Supervisor events (gate restarted) are not decisions.
        return r.event ? [] : [r];
      } catch {
        return [];
      }
    });
}
