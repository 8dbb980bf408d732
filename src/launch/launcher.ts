import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Backend, Bottle, LaunchContext } from "../backends/types.ts";
import { UserError } from "../errors.ts";
import type { GatePolicy, GateSecrets, UpstreamOverrides } from "../gate/types.ts";
import type { PlanJson } from "../plan/types.ts";
import type { Spec } from "../manifest/spec.ts";
import { isPreserved, isStopping, markPreserved, removeStateDir } from "../state/dirs.ts";
import { acquireLock, claimStateDir, type Lock } from "../state/lock.ts";
import { updateMetadata, writeMetadata } from "../state/metadata.ts";
import type { ProvisionInput } from "../provision/provision.ts";
import { checkSkills } from "../provision/skills.ts";
import { paths, socketPathProblem } from "../state/paths.ts";
import { isAlive, removeQuietly } from "../state/process.ts";
import { spawnGate, stopGate } from "../supervise/gate.ts";
import { waitForGate } from "../supervise/probe.ts";
import { spawnSupervisor } from "../supervise/supervisor.ts";
import { watchGate } from "../supervise/watcher.ts";
import { agentArgv } from "./agent.ts";
import { prepareBridgeDoor } from "./door.ts";
import { imageTopic, takeFirstRunLines } from "./first-run.ts";
import { gateInputs, type ResolvedEnv } from "./inputs.ts";
import { RollbackStack } from "./rollback.ts";
import { Aborted, Interrupts, SIGNAL_EXIT, type SignalSource } from "./signals.ts";
import { explainAgentResumeHint, sessionLeft, settle } from "./settle.ts";
import { saveWork } from "./save-work.ts";
import { removeBottle, stopSupervisor } from "./teardown.ts";

// The launch sequence (DESIGN.md data flow steps 6 and 7) as small steps
// on a rollback stack. Every effect is reached through `deps`, so tests run
// the real sequence against a fake backend and a fake gate.

export interface LaunchDeps {
  home: string;
  backend: Backend;
  hostEnv: Record<string, string | undefined>;
  // Asks for "?" entries on the tty, copies ${HOST_VAR}s; values in memory only.
  resolveEnv: (spec: Spec) => Promise<ResolvedEnv>;
  ensureCa: (caDir: string) => Promise<unknown>;
  makePlaceholder: (real: string) => string;
  // Provisioning of the started bottle (src/provision), the same for every
  // backend: workspace copy, home files, CA trust.
  provision: (bottle: Bottle, input: ProvisionInput & { homeTar?: string }) => Promise<void>;
  // The agent's home staged as one tar before the launch, for a backend
  // that unpacks it as the bottle starts (LaunchContext.homeTar); returns
  // its path. Without it, provisioning stages the home itself.
  stageHome?: (input: ProvisionInput) => Promise<string>;
  gateCommand?: (stateDir: string) => string[];
  // Where the gate resolves names and which extra CA it trusts: only
  // `claude-bottle selftest` sets it, for its own recording upstream. It
  // goes to the gate on stdin with the secrets (see GateSecrets.upstream).
  gateUpstream?: UpstreamOverrides;
  supervisorCommand?: (stateDir: string) => string[];
  remintSlug?: () => string;
  signals: SignalSource;
  err: (line: string) => void;
  out: (line: string) => void;
  tty: boolean;
  gateReadyTimeoutMs?: number;
  watchIntervalMs?: number;
  // Test hook: runs before each step, by name.
  beforeStep?: (name: string) => Promise<void> | void;
}

export interface LaunchRequest {
  spec: Spec;
  plan: PlanJson;
  detached: boolean;
  cwd: string;
  // Show the full image build log (and other backend detail) as it happens.
  verbose?: boolean;
  // `resume`: reuse this slug's preserved state dir (CA, policy placeholders).
  resume?: boolean;
}

export const STEPS = ["env", "state", "ca", "policy", "gate", "bottle", "provision", "attach"] as const;

export async function launch(req: LaunchRequest, deps: LaunchDeps): Promise<number> {
  const spec = req.spec;
  const backend = deps.backend;
  let plan = req.plan;
  const stack = new RollbackStack();

  // What the bottle will be given must exist, whatever the backend: checked
  // before the secret prompts and before anything is created.
  checkSkills(spec, deps.hostEnv);
  if (spec.workspace.mode !== "none" && (!spec.workspace.path || !existsSync(spec.workspace.path))) {
    throw new UserError(`workspace ${spec.workspace.path ?? "(none)"} does not exist; run from your project or use workspace: none`);
  }

  // Env first, before any handler or resource: a Ctrl-C at a secret prompt
  // simply ends the process with nothing created.
  await deps.beforeStep?.("env");
  const resolved = await deps.resolveEnv(spec);

  // What the backend can get ready before the bottle exists (the agent
  // image) runs beside the steps below; the bottle step waits for it, so a
  // failure to prepare is that step's failure. It makes nothing to undo,
  // and it is waited for before any return: no image build outlives us.
  const prepareCtx = {
    verbose: req.verbose ?? false,
    progress: (s: string) => deps.err(`claude-bottle: ${s}`),
    imageBuild: () => {
      for (const l of takeFirstRunLines(deps.home, [imageTopic(backend)])) deps.err(l);
    },
  };
  const prepared = backend.prepare(spec, prepareCtx);
  prepared.catch(() => {}); // the launch reports it (the bottle step awaits it)

  const intr = new Interrupts(deps.signals);
  const checkpoint = () => {
    if (intr.received) throw new Aborted(intr.received);
  };
  const step = async <T>(name: (typeof STEPS)[number], fn: () => Promise<T> | T): Promise<T> => {
    checkpoint();
    await deps.beforeStep?.(name);
    checkpoint();
    let r: T;
    try {
      r = await fn();
    } catch (e) {
      // A step that failed after a signal failed because of it (Ctrl-C on a
      // terminal reaches the docker CLI too, which then stops the bottle it
      // was starting): the signal is the story, not the step's error.
      checkpoint();
      throw e;
    }
    checkpoint();
    return r;
  };
  intr.onSignal((s) => deps.err(`claude-bottle: ${s}: stopping, removing what was created so far`));

  let stateDir = "";
  let slug = plan.slug;
  let lock = null as Lock | null;
  let keepState = false;
  try {
    // 1. State dir (0700) + lock. Its undo runs last: keeps the dir only if
    //    it is marked .preserve (resume material).
    await step("state", () => {
      const tooLong = socketPathProblem(paths.gateSocket(paths.stateDir(deps.home, slug)));
      if (tooLong) throw new UserError(tooLong);
      if (req.resume) {
        stateDir = paths.stateDir(deps.home, slug);
        if (!existsSync(stateDir)) throw new UserError(`no state for bottle ${slug}; 'claude-bottle ls' lists bottles`);
      } else {
        const claimed = claimStateDir(deps.home, slug, deps.remintSlug);
        slug = claimed.slug;
        stateDir = claimed.stateDir;
        if (slug !== plan.slug) deps.err(`claude-bottle: slug ${plan.slug} was taken; using ${slug}`);
      }
      stack.push("state", () => {
        lock?.release();
        if (isPreserved(stateDir)) return;
        if (keepState) markPreserved(stateDir, "resume did not complete");
        else removeStateDir(stateDir);
      });
      lock = acquireLock(stateDir);
      if (req.resume) {
        // While it runs again, the session is not "preserved" (ls, cleanup
        // treat it as live); the marker comes back if this run fails too.
        keepState = true;
        removeQuietly(paths.preserve(stateDir));
      }
      plan = { ...plan, slug, state_dir: stateDir };
      writeFileSync(paths.spec(stateDir), JSON.stringify(spec, null, 2) + "\n", { mode: 0o600 });
      writeFileSync(paths.plan(stateDir), JSON.stringify(plan, null, 2) + "\n", { mode: 0o600 });
      writeMetadata(stateDir, {
        version: 1,
        slug,
        agent: spec.agent,
        bottle: spec.bottle,
        backend: backend.name,
        cwd: req.cwd,
        workspace: spec.workspace,
        started_at: new Date().toISOString(),
        status: "starting",
        detached: req.detached,
        owner_pid: process.pid,
        exit_code: null,
      });
      removeQuietly(paths.stopping(stateDir));
      // The gate's socket folder, which the bottle mounts: made here, not by
      // the gate, because the bottle may start before the gate listens.
      mkdirSync(paths.sockDir(stateDir), { recursive: true, mode: 0o755 });
      chmodSync(paths.sockDir(stateDir), 0o755);
    });

    // 2. Per-bottle CA (kept across resume: the bottle trusts the same one).
    await step("ca", () => deps.ensureCa(paths.caDir(stateDir)));

    // 3. Placeholders + policy.json (no secrets in it).
    const inputs = await step("policy", () => {
      const previous = req.resume ? readPreviousPolicy(stateDir) : undefined;
      const ws = spec.workspace.path;
      const gitWorkspace = spec.workspace.mode !== "none" && ws && existsSync(join(ws, ".git")) ? ws : null;
      const gi = gateInputs({ slug, spec, resolved, hostEnv: deps.hostEnv, makePlaceholder: deps.makePlaceholder, previous, gitWorkspace });
      writeFileSync(paths.policy(stateDir), JSON.stringify(gi.policy, null, 2) + "\n", { mode: 0o600 });
      return gi;
    });
    // The bridge door: the gate's TCP port and the token, held in memory
    // like the secrets (the gate and the bridge get them, nothing else).
    const door = await prepareBridgeDoor(plan, backend);
    const gateSecrets: GateSecrets = {
      ...inputs.secrets,
      ...(deps.gateUpstream ? { upstream: deps.gateUpstream } : {}),
      ...(door ? { door: { listen: door.gate, token: door.token } } : {}),
    };

    // 4-6. The gate and the bottle start side by side: neither needs the
    //    other until the agent's first request (the relay dials the gate's
    //    socket per connection), and each takes a few hundred ms. Both undos
    //    are on the stack before either starts, so a failure or a signal at
    //    any point unwinds both (the bottle first, then the gate).
    stack.push("gate", () => stopGate(stateDir));
    stack.push("bottle", () => removeBottle(backend, slug));
    let supervisorPid: number | null = null;

    // 4. The gate, detached; ready when its socket answers. With -d its
    //    supervisor follows at once (it watches the gate, not the bottle).
    const gateUp = step("gate", async () => {
      deps.err(`claude-bottle: starting gate for ${slug}`);
      const g = await spawnGate({ stateDir, secrets: gateSecrets, command: deps.gateCommand?.(stateDir) });
      const ok = await waitForGate(paths.gateSocket(stateDir), {
        timeoutMs: deps.gateReadyTimeoutMs ?? 15_000,
        stillWorth: () => !intr.received && isAlive(g.pid),
      });
      checkpoint();
      if (!ok) {
        const why = lastLine(paths.gateOut(stateDir));
        throw new UserError(`the gate did not start${why ? ` (${why})` : ""}; see ${paths.gateOut(stateDir)} and ${paths.gateLog(stateDir)}`);
      }
      if (req.detached) {
        stack.push("supervisor", () => stopSupervisor(stateDir));
        supervisorPid = await spawnSupervisor({ stateDir, secrets: gateSecrets, command: deps.supervisorCommand?.(stateDir) });
      }
    });

    // 5. The bottle: created and started by the backend.
    // 6. Then provisioned, for every backend alike.
    const provisionInput: ProvisionInput = { spec, stateDir, hostEnv: deps.hostEnv, progress: (s) => deps.err(`claude-bottle: ${s}`) };
    const bottleUp = step("bottle", async () => {
      deps.err(`claude-bottle: starting bottle ${slug} (${backend.name})`);
      const ctx: LaunchContext = {
        stateDir,
        gateSocket: paths.gateSocket(stateDir),
        env: inputs.agentEnv,
        secretEnvNames: Object.keys(inputs.secretEnv).sort(),
        ...prepareCtx,
        ...(door ? { door } : {}),
      };
      // The home is staged while the image check finishes.
      const [homeTar] = await Promise.all([deps.stageHome?.(provisionInput), prepared]);
      if (homeTar !== undefined) ctx.homeTar = homeTar;
      // Secret values reach the backend's child (docker/smolvm) by name from
      // our environment, never on its argv; put back what was there after.
      // (The gate and its supervisor start with an allowlisted environment,
      // so starting them meanwhile passes them nothing of this.)
      const saved = withEnv(inputs.secretEnv);
      try {
        return { bottle: await backend.launch(spec, plan, ctx), homeTar };
      } finally {
        saved.restore();
      }
    }).then(({ bottle: b, homeTar }) => step("provision", () => deps.provision(b, { ...provisionInput, ...(homeTar !== undefined ? { homeTar } : {}) }).then(() => b)));

    const bottle: Bottle = (await allOrFirstError([gateUp, bottleUp]))[1];
    updateMetadata(stateDir, { status: "running" });

    if (req.detached) {
      updateMetadata(stateDir, { owner_pid: supervisorPid });
      lock?.release();
      stack.commit();
      deps.out(slug);
      deps.err(`claude-bottle: ${slug} is running detached.`);
      deps.err(`  attach:  claude-bottle attach ${slug}`);
      deps.err(`  exec:    claude-bottle exec ${slug} -- <command>`);
      deps.err(`  stop:    claude-bottle down ${slug}`);
      return 0;
    }

    // 7. Foreground: watch the gate, attach the agent.
    const watcher = watchGate({
      slug,
      stateDir,
      secrets: gateSecrets,
      command: deps.gateCommand?.(stateDir),
      intervalMs: deps.watchIntervalMs,
      onEvent: (e) => deps.err(`claude-bottle: ${e.what} ${e.kind}: ${e.reason}`),
      door: door ? backend.doorKeeper?.(slug, stateDir, door.token) : null,
    });
    stack.push("watcher", () => watcher.stop());
    const save = () => saveWork(bottle, { home: deps.home, slug, stateDir, spec, err: deps.err });
    let savedOnSignal: Promise<unknown> | null = null;
    const code = await step("attach", async () => {
      // From here a signal ends the agent (by stopping the bottle) and the
      // normal end-of-session path runs: the state is preserved because the
      // exit is non-zero. Ctrl-C with a tty goes to the agent as a key.
      // What the agent did not push is saved first (bounded by the save's
      // timeout); a second signal does not wait for it.
      const off = intr.onSignal(() => {
        const remove = () => void removeBottle(backend, slug).catch(() => {});
        if (savedOnSignal) return remove();
        savedOnSignal = isStopping(stateDir) ? Promise.resolve() : save();
        void savedOnSignal.finally(remove);
      });
      try {
        return await bottle.exec(agentArgv(spec, deps.hostEnv), { tty: deps.tty, stdin: true });
      } finally {
        off();
      }
    }).catch((e) => {
      if (e instanceof Aborted) return SIGNAL_EXIT[e.signal];
      throw e;
    });
    // Before the bottle goes (the unwind removes it): what the agent did
    // not push. `down` saves it itself before it stops the bottle.
    if (savedOnSignal) await savedOnSignal;
    else if (!isStopping(stateDir)) await save();
    if (sessionLeft(code, deps.tty, req.resume === true)) keepState = false;
    await settle(stateDir, slug, code, req.resume === true, deps);
    explainAgentResumeHint(spec, slug, code, deps);
    await stack.unwind();
    return code;
  } catch (e) {
    // `down` or `cleanup` took the bottle away while it was starting: the
    // step that noticed (a gate that stopped answering, a bottle that went)
    // failed because of that stop, and the stop is what to report. Asked
    // before the unwind, which removes the state dir itself.
    const stoppedOutside = lock !== null && !(e instanceof Aborted) && isStopping(stateDir);
    await prepared.catch(() => {});
    const failures = await stack.unwind();
    for (const f of failures) deps.err(`claude-bottle: cleanup of ${f.name} failed: ${(f.error as Error)?.message ?? f.error}`);
    if (e instanceof Aborted) return SIGNAL_EXIT[e.signal];
    if (stoppedOutside) {
      deps.err(`claude-bottle: ${slug} was stopped from outside while it was starting`);
      return 1;
    }
    throw e;
  } finally {
    intr.dispose();
  }
}

// Waits for every branch to settle (nothing may still be starting when the
// stack unwinds), then fails with a signal if one came (the user's intent),
// else with the first error.
async function allOrFirstError<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const rs = await Promise.allSettled(ps);
  const failed = rs.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as unknown);
  if (failed.length > 0) throw failed.find((e) => e instanceof Aborted) ?? failed[0];
  return rs.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

function readPreviousPolicy(stateDir: string): GatePolicy | undefined {
  try {
    const p = JSON.parse(readFileSync(paths.policy(stateDir), "utf8")) as GatePolicy;
    return Array.isArray(p.routes) && Array.isArray(p.git) && p.placeholders ? p : undefined;
  } catch {
    return undefined;
  }
}

// The gate's own last words (it never prints secret values), for the error.
function lastLine(file: string): string | null {
  try {
    const lines = readFileSync(file, "utf8").trim().split("\n");
    const l = lines[lines.length - 1]?.trim() ?? "";
    return l.length > 0 ? l.slice(0, 300) : null;
  } catch {
    return null;
  }
}

function withEnv(vars: Record<string, string>): { restore(): void } {
  const before: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    before[k] = process.env[k];
    process.env[k] = v;
  }
  return {
    restore() {
      for (const [k, v] of Object.entries(before)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
}
