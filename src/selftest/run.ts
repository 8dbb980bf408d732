import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditRecord } from "../gate/types.ts";
import { selfCommand } from "../self.ts";
import { readMetadata } from "../state/metadata.ts";
import { paths } from "../state/paths.ts";
import { attacks, controls } from "./attacks/index.ts";
import { gateFaultCases } from "./fault.ts";
import { upSelftestBottle } from "./launch.ts";
import { outcomeOf } from "./outcome.ts";
import { startReceivers } from "./receivers/index.ts";
import type { Window } from "./receivers/record.ts";
import { buildReport, type Report } from "./report.ts";
import { judgeAttack, wrapScript } from "./script.ts";
import type { Attack, AttackContext, AttackOutcome, Evidence, Verdict } from "./types.ts";

// The escape suite's runner, shared by `claude-bottle selftest` and
// `bun run test:escape`. It brings up a REAL bottle through the same `up`
// a user runs (a child process of this very binary), with planted secrets
// and a known policy, starts the host-side receivers, then attacks from
// inside and judges every attempt from what the receivers recorded.

export interface SelftestOptions {
  backend?: string; // docker | smolmachines (default: auto)
  log: (line: string) => void; // progress, to stderr
  baseImage?: string; // CLAUDE_BOTTLE_BASE_IMAGE for the bottle image
  only?: (a: Pick<Attack, "id">) => boolean; // run a subset (tests)
  // Every attack's evidence as judged (the fixture capture records them).
  onEvidence?: (a: Attack, ev: Evidence, ctx: AttackContext, outcome: AttackOutcome) => void;
}

const ALLOWED = "allowed.selftest.test";
const OTHER = "other.selftest.test";
const EVIL = "evil.selftest.test";
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

export async function runSelftest(opts: SelftestOptions): Promise<Report> {
  const work = mkdtempSync(join(tmpdir(), "claude-bottle-selftest-"));
  const home = join(work, "home");
  const cleanups: (() => void | Promise<void>)[] = [() => rmSync(work, { recursive: true, force: true })];
  try {
    const secrets = plantedSecrets();
    const credential = { envVar: "SELFTEST_TOKEN", realValue: "stk_" + crypto.randomUUID().replaceAll("-", "") };

    // The host side: the "internet" and the host's own services.
    const rx = await startReceivers({ names: [ALLOWED, OTHER, EVIL, `*.${WILD}`], dir: work });
    cleanups.push(() => rx.stop());

    // A git upstream the bottle may push to (through the git gate only).
    // Its refs are a receiver: any change is an arrival.
    const gitUpstream = join(work, "upstream.git");
    Bun.spawnSync(["git", "init", "-q", "--bare", gitUpstream]);
    const refsOf = () => Bun.spawnSync(["git", "-C", gitUpstream, "for-each-ref"], { stdout: "pipe" }).stdout.toString();

    // The manifests: bottles only ever come from the home dir, which must
    // be the user's alone (state/home.ts), whatever the umask.
    mkdirSync(paths.bottlesDir(home), { recursive: true, mode: 0o700 });
    mkdirSync(paths.agentsDir(home), { recursive: true, mode: 0o700 });
    const env = secrets.map((s) => `  ${s.name}: "\${${s.name}}"`).join("\n");
    const { httpsPort, httpPort } = rx.upstream;
    writeFileSync(
      join(paths.bottlesDir(home), "selftest.md"),
      `---
env:
${env}
egress:
  - host: ${ALLOWED}
    ports: [${httpsPort}, ${httpPort}]
    allow_private: ["127.0.0.1:${httpsPort}", "127.0.0.1:${httpPort}"]
    auth: { header: Authorization, scheme: Bearer, token_ref: ${credential.envVar} }
  - host: ${OTHER}
    ports: [${httpsPort}]
    allow_private: ["127.0.0.1:${httpsPort}"]
  - host: "*.${WILD}"
    ports: [${httpsPort}]
    allow_private: ["127.0.0.1:${httpsPort}"]
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
      // to the loopback address it listens on (GateSecrets.upstream). The
      // evil name resolves there too: a gate that let it through would
      // deliver to a receiver, not to nowhere.
      upstream: { ca: rx.upstream.ca.certPem, hosts: { [ALLOWED]: "127.0.0.1", [OTHER]: "127.0.0.1", [EVIL]: "127.0.0.1" } },
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
      nonce: crypto.randomUUID().replaceAll("-", "").slice(0, 16),
      proxy: "http://127.0.0.1:3128",
      allowedHost: ALLOWED,
      allowedHttpsUrl: `https://${ALLOWED}:${httpsPort}/`,
      allowedHttpUrl: `http://${ALLOWED}:${httpPort}/`,
      evilHost: EVIL,
      secrets,
      credential: { ...credential, placeholderHost: ALLOWED },
      otherAllowedHost: OTHER,
      wildcardDomain: WILD,
      hostTcp: rx.tcp,
      hostUdp: rx.udp,
      hostDns: rx.dns,
      hostLoopback: rx.loopback,
      hostUnixSocket: rx.unix,
      gitRemoteUrl: gitUpstream,
    };

    // What the receivers got during one attack, plus the git upstream's refs.
    const auditFile = paths.audit(stateDir);
    let refs = refsOf();
    const collect = (): Window => {
      const w = rx.log.take();
      const now = refsOf();
      if (now !== refs) w.arrivals.push({ kind: "git", receiver: "git upstream", from: "", text: `refs changed:\n${now}`, bytes: now.length });
      refs = now;
      return w;
    };

    // An arrival after an attack ended (a slow datagram) still belongs to
    // it: before each attack, whatever came in since the last one is added
    // to the last one's evidence and that attack is judged again.
    let last: { a: Attack; ev: Evidence; control: boolean; judge: (ev: Evidence) => Verdict; index: number } | null = null;
    const outcomes: AttackOutcome[] = [];
    const settleStrays = () => {
      const stray = collect();
      if (!last || (stray.arrivals.length === 0 && !stray.overflowed)) return;
      last.ev.arrivals.push(...stray.arrivals);
      outcomes[last.index] = outcomeOf(last.a, judgeOrOverflow(last, stray.overflowed), last.control);
    };
    const judgeOrOverflow = (l: NonNullable<typeof last>, overflowed: boolean): Verdict =>
      overflowed ? judgeAttack(l.a, l.ev, ctx, true) : l.judge(l.ev);

    const run = async (a: Attack, control: boolean, custom?: (ev: Evidence) => Verdict): Promise<AttackOutcome> => {
      settleStrays();
      const auditMark = existsSync(auditFile) ? statSync(auditFile).size : 0;
      const exec = await bottle.run(["sh", "-s"], { input: wrapScript(a, ctx), user: a.user });
      // Audit lines are appended as the gate decides; datagrams may still be
      // in flight: give both a moment.
      await Bun.sleep(100);
      const w = collect();
      const ev: Evidence = { exec, audit: readAuditSince(auditFile, auditMark), arrivals: w.arrivals };
      const judge = (e: Evidence) => {
        const v = judgeAttack(a, e, ctx);
        return custom && v.ran !== false ? custom(e) : v;
      };
      const v = w.overflowed ? judgeAttack(a, ev, ctx, true) : judge(ev);
      const o = outcomeOf(a, v, control);
      last = { a, ev, control, judge, index: outcomes.length };
      opts.onEvidence?.(a, ev, ctx, o);
      return o;
    };
    const record = (o: AttackOutcome) => {
      opts.log(`selftest: ${o.pass ? "ok     " : o.ran ? "FAIL   " : "NOT RUN"} ${o.id} (${o.observed ?? "-"})`);
      outcomes.push(o);
    };

    const pick = opts.only ?? (() => true);
    for (const c of controls(ctx).filter(pick)) record(await run(c, true));
    for (const a of attacks(ctx).filter(pick)) record(await run(a, false));
    if (pick({ id: "10.gate-killed" })) {
      for (const o of await gateFaultCases(stateDir, ctx, controls(ctx)[0]!, run)) record(o);
    }
    settleStrays();
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
