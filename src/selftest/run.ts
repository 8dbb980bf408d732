import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bottle } from "../backends/types.ts";
import type { AuditRecord } from "../gate/types.ts";
import { selfCommand } from "../self.ts";
import { readMetadata } from "../state/metadata.ts";
import { paths } from "../state/paths.ts";
import { isAlive, readPid } from "../state/process.ts";
import { attacks, controls } from "./attacks.ts";
import { outcomeOf } from "./outcome.ts";
import { buildReport, type Report } from "./report.ts";
import type { Attack, AttackContext, AttackOutcome, Observed } from "./types.ts";
import { upSelftestBottle } from "./launch.ts";
import { makeRecorder, startHostListener, startTestUpstream } from "./upstream.ts";

// The escape suite's runner, shared by `claude-bottle selftest` and
// `bun run test:escape`. It brings up a REAL bottle through the same `up`
// a user runs (a child process of this very binary), with planted secrets
// and a known policy, then attacks from inside and judges every attempt
// from the host side.

export interface SelftestOptions {
  backend?: string; // docker | smolmachines (default: auto)
  log: (line: string) => void; // progress, to stderr
  baseImage?: string; // CLAUDE_BOTTLE_BASE_IMAGE for the bottle image
  only?: (a: Attack) => boolean; // run a subset (tests)
}

const ALLOWED = "allowed.selftest.test";
const OTHER = "other.selftest.test";
const WILD = "wild.selftest.test";

// Planted secrets, shaped like the real thing so the credential rules see
// them, but random per run so no real key is ever involved.
function plantedSecrets(): { name: string; value: string }[] {
  const r = (alphabet: string, n: number) =>
    Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => alphabet[b % alphabet.length]).join("");
  const up = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const an = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return [
    { name: "TEST_SECRET_AWS", value: "AKIA" + r(up, 16) },
    { name: "TEST_SECRET_GITHUB", value: "ghp_" + r(an, 36) },
    { name: "TEST_SECRET_ANTHROPIC", value: "sk-ant-api03-" + r(an + "-_", 93) + "AA" },
    { name: "TEST_SECRET_GENERIC", value: r(an, 40) },
  ];
}

function bridgeAddress(): string | null {
  const r = Bun.spawnSync(["ip", "-4", "-o", "addr", "show", "docker0"], { stdout: "pipe", stderr: "ignore" });
  return r.stdout.toString().match(/inet (\d+\.\d+\.\d+\.\d+)/)?.[1] ?? null;
}

export async function runSelftest(opts: SelftestOptions): Promise<Report> {
  const work = mkdtempSync(join(tmpdir(), "claude-bottle-selftest-"));
  const home = join(work, "home");
  const cleanups: (() => void | Promise<void>)[] = [() => rmSync(work, { recursive: true, force: true })];
  try {
    const secrets = plantedSecrets();
    const credential = { envVar: "SELFTEST_TOKEN", realValue: "stk_" + crypto.randomUUID().replaceAll("-", "") };

    // The host side: the "internet" and the host's own services.
    const upstream = await startTestUpstream([ALLOWED, OTHER]);
    cleanups.push(() => upstream.stop());
    const hostSeen = makeRecorder();
    const bridge = bridgeAddress();
    const listeners = [startHostListener("host-loopback", "127.0.0.1", hostSeen)];
    if (bridge) listeners.push(startHostListener("host-any", "0.0.0.0", hostSeen), startHostListener("docker-bridge", bridge, hostSeen));
    for (const l of listeners) cleanups.push(() => l.stop());
    // 0.0.0.0 listens everywhere: the attacker dials it at the bridge address.
    const dialable = listeners.map((l) => ({ label: l.label, host: l.host === "0.0.0.0" ? bridge! : l.host, port: l.port }));

    // A git upstream the bottle may push to (through the git gate only).
    const gitUpstream = join(work, "upstream.git");
    Bun.spawnSync(["git", "init", "-q", "--bare", gitUpstream]);
    const refsOf = () => Bun.spawnSync(["git", "-C", gitUpstream, "for-each-ref"], { stdout: "pipe" }).stdout.toString();

    // The manifests: bottles only ever come from the home dir.
    mkdirSync(paths.bottlesDir(home), { recursive: true });
    mkdirSync(paths.agentsDir(home), { recursive: true });
    const env = secrets.map((s) => `  ${s.name}: "\${${s.name}}"`).join("\n");
    writeFileSync(
      join(paths.bottlesDir(home), "selftest.md"),
      `---
env:
${env}
egress:
  - host: ${ALLOWED}
    ports: [${upstream.httpsPort}, ${upstream.httpPort}]
    allow_private: true
    auth: { header: Authorization, scheme: Bearer, token_ref: ${credential.envVar} }
  - host: ${OTHER}
    ports: [${upstream.httpsPort}]
    allow_private: true
  - host: "*.${WILD}"
    ports: [${upstream.httpsPort}]
    allow_private: true
git:
  - name: escape
    url: ${gitUpstream}
---
The bottle the escape suite attacks from.
`,
    );
    writeFileSync(join(paths.agentsDir(home), "selftest.md"), "---\nbottle: selftest\nworkspace: none\n---\nEscape suite.\n");

    const childEnv: Record<string, string> = {
      ...(process.env as Record<string, string>),
      CLAUDE_BOTTLE_HOME: home,
      [credential.envVar]: credential.realValue,
      ...Object.fromEntries(secrets.map((s) => [s.name, s.value])),
    };
    if (opts.baseImage) childEnv.CLAUDE_BOTTLE_BASE_IMAGE = opts.baseImage;
    const cli = (args: string[]) =>
      Bun.spawn([...selfCommand(), ...args], { env: childEnv, cwd: work, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
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
    const slug = await upSelftestBottle({
      env: childEnv,
      cwd: work,
      backend: opts.backend,
      // The gate trusts the recording upstream's CA and resolves its names
      // to the loopback address it listens on (GateSecrets.upstream).
      upstream: { ca: upstream.ca.certPem, hosts: { [ALLOWED]: "127.0.0.1", [OTHER]: "127.0.0.1" } },
      log: opts.log,
    });
    cleanups.unshift(async () => {
      await cli(["down", slug]).exited;
    });
    const stateDir = paths.stateDir(home, slug);
    const meta = readMetadata(stateDir);
    if (!meta) throw new Error(`the selftest bottle ${slug} has no readable metadata (${paths.metadata(stateDir)})`);
    const { getBackend } = await import("../backends/registry.ts");
    const bottle = await (await getBackend(meta.backend)).attach(slug);
    if (!bottle) throw new Error(`the selftest bottle ${slug} is not running`);

    const ctx: AttackContext = {
      proxy: "http://127.0.0.1:3128",
      allowedHost: ALLOWED,
      allowedHttpsUrl: `https://${ALLOWED}:${upstream.httpsPort}/`,
      allowedHttpUrl: `http://${ALLOWED}:${upstream.httpPort}/`,
      secrets,
      credential: { ...credential, placeholderHost: ALLOWED },
      otherAllowedHost: OTHER,
      wildcardDomain: WILD,
      hostListeners: dialable,
      gitRemoteUrl: gitUpstream,
    };
    const auditFile = paths.audit(stateDir);
    const run = async (a: Attack, control: boolean): Promise<AttackOutcome> => {
      const auditMark = existsSync(auditFile) ? statSync(auditFile).size : 0;
      const upMark = upstream.seen.mark();
      const hostMark = hostSeen.mark();
      const refsBefore = refsOf();
      const r = await bottle.run(["sh", "-s"], { input: a.script(ctx), user: a.user });
      // Audit lines are appended as the gate decides; give it a moment to
      // flush the last one.
      await Bun.sleep(50);
      const seen: Observed = {
        audit: readAuditSince(auditFile, auditMark),
        upstream: upstream.seen.since(upMark) + hostSeen.since(hostMark) + (refsOf() !== refsBefore ? "git refs changed\n" : ""),
      };
      return outcomeOf(a, a.judge(r, seen, ctx), control);
    };

    const outcomes: AttackOutcome[] = [];
    const pick = opts.only ?? (() => true);
    for (const c of controls(ctx).filter(pick)) outcomes.push(await run(c, true));
    for (const a of attacks(ctx).filter(pick)) {
      const o = await run(a, false);
      opts.log(`selftest: ${o.pass ? "ok  " : "FAIL"} ${o.id} (${o.observed ?? "-"})`);
      outcomes.push(o);
    }
    if (!opts.only || opts.only({ id: "10.fail-closed" } as Attack)) {
      outcomes.push(...(await faultCases(stateDir, bottle, ctx, run)));
    }
    return buildReport(meta.backend, outcomes);
  } finally {
    for (const c of cleanups) {
      try {
        await c();
      } catch {
        // Best effort: `claude-bottle cleanup` finds anything left.
      }
    }
  }
}

// Gate killed -> the bottle has no way out; gate restarted by its
// supervisor -> requests work again.
async function faultCases(
  stateDir: string,
  _bottle: Bottle,
  ctx: AttackContext,
  run: (a: Attack, control: boolean) => Promise<AttackOutcome>,
): Promise<AttackOutcome[]> {
  const [control] = controls(ctx);
  const out: AttackOutcome[] = [];
  const pidFile = paths.gatePid(stateDir);
  const pid = readPid(pidFile);
  if (pid === null) throw new Error(`the selftest bottle's gate wrote no pid (${pidFile})`);
  process.kill(pid, "SIGKILL");
  const closed = await run({ ...control!, id: "10.gate-killed", category: 10, title: "gate killed: requests fail (closed, not open)", expected: "fail-closed" }, false);
  // A refused request with no gate to audit it is the fail-closed layer.
  const wasBlocked = closed.blocked || /did not get through/.test(closed.detail);
  out.push({ ...closed, blocked: wasBlocked, observed: wasBlocked ? "fail-closed" : null, pass: wasBlocked });
  const deadline = Date.now() + 30_000;
  let restarted = false;
  while (Date.now() < deadline) {
    const now = readPid(pidFile);
    if (now !== null && now !== pid && isAlive(now)) {
      restarted = true;
      break;
    }
    await Bun.sleep(200);
  }
  // The new gate needs a moment to listen: retry the control, bounded.
  const againAttack = { ...control!, id: "10.gate-restarted", category: 10, title: "gate restarted: requests work again" };
  let again = await run(againAttack, true);
  for (let i = 0; restarted && !again.pass && i < 10; i++) {
    await Bun.sleep(500);
    again = await run(againAttack, true);
  }
  out.push({ ...again, pass: restarted && again.pass, detail: restarted ? again.detail : "the gate was not restarted within 30 s" });
  return out;
}

function readAuditSince(file: string, offset: number): AuditRecord[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file).subarray(offset).toString("utf8");
  return text
    .split("\n")
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as AuditRecord];
      } catch {
        return [];
      }
    });
}
