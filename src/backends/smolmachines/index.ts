import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../errors.ts";
import type { PlanJson } from "../../plan/types.ts";
import type { Spec } from "../../manifest/spec.ts";
import { bottleHome, paths } from "../../state/paths.ts";
import type { Backend, BottleInfo, CleanupItem, LaunchContext } from "../types.ts";
import { createArgv } from "./cli.ts";
import { GUEST_GATE_SOCKET, GUEST_WORKSPACE, LABEL_OWNER, LABEL_SLUG, RELAY_PORT, machineName } from "./constants.ts";
import { scrubSmolvmEnv } from "./env.ts";
import { classifyImage, ensureImageArchive } from "./image.ts";
import { SmolmachinesBottle, listMachines, lockFileFor, machineStatus, removeMachine, smolvmOk, startAndWait, type MachineJson, type Runner } from "./lifecycle.ts";
import { checkPreflight, probePreflight } from "./preflight.ts";
import { relayEntrypoint } from "./relay.ts";
import { assertSealedSmolfile, renderSmolfile, type SmolfileInput } from "./smolfile.ts";

export interface SmolmachinesOptions {
  home?: string; // default: CLAUDE_BOTTLE_HOME or ~/.claude-bottle
  smolvmBin?: string; // default: "smolvm" on PATH
  docker?: string; // used only to `docker save` a local image; default "docker"
  hostEnv?: Record<string, string | undefined>; // default: process.env
  // The agent image when the spec names none (e.g. the docker backend's
  // image builder returning its tag). A path is used as a local archive.
  agentImage?: (ctx: LaunchContext) => Promise<string>;
  readyTimeoutMs?: number; // default 120 s (first boot stages the image)
}

// The Smolfile for a bottle: the relay as the persistent workload, env
// sorted, resources from the bottle, workspace as a virtiofs volume when
// mounted. No image (it goes on the CLI), no net, no [network].
export function smolfileInput(spec: Spec, env: Record<string, string>): SmolfileInput {
  const ws = spec.workspace;
  return {
    entrypoint: relayEntrypoint(),
    env,
    workdir: ws.mode === "none" ? undefined : GUEST_WORKSPACE,
    cpus: spec.resources.cpus,
    memory: spec.resources.memory,
    volumes: ws.mode === "mount" && ws.path ? [{ host: ws.path, guest: GUEST_WORKSPACE }] : undefined,
  };
}

function toStatus(state: string): BottleInfo["status"] {
  return state === "running" || state === "stopped" || state === "created" ? state : "unknown";
}

export function createSmolmachinesBackend(opts: SmolmachinesOptions = {}): Backend {
  const hostEnv = opts.hostEnv ?? process.env;
  const home = opts.home ?? bottleHome(hostEnv);
  const runner: Runner = {
    bin: opts.smolvmBin ?? "smolvm",
    // Read at each spawn: the launcher sets secret values in our env only
    // for the duration of launch().
    env: () => scrubSmolvmEnv(opts.hostEnv ?? process.env),
  };
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const ours = (m: MachineJson) => m.labels?.[LABEL_OWNER] === "1" && typeof m.labels?.[LABEL_SLUG] === "string";

  return {
    name: "smolmachines",
    about: {
      label: "smolvm",
      sealLine: "the bottle is a microVM with no network card; the gate socket is its only connection to the host.",
      imageLine: "Preparing the agent image for smolvm on the host (the VM has no network to pull it). This happens once.",
    },

    async preflight() {
      return checkPreflight(await probePreflight({ smolvmBin: runner.bin, env: runner.env(), hostEnv }));
    },

    describe(spec: Spec, plan: PlanJson) {
      const name = machineName(plan.slug);
      const envNames = plan.env.map((e) => e.name).sort();
      return {
        machine: name,
        image: spec.image ?? plan.image ?? "(agent image)",
        image_delivery: "local archive via --image (the VM has no network to pull)",
        network: "none: no `net`, no `[network]`; the gate socket is the only way out",
        mount_socket: `${paths.gateSocket(plan.state_dir)}:${GUEST_GATE_SOCKET}`,
        relay: `127.0.0.1:${RELAY_PORT} -> ${GUEST_GATE_SOCKET}`,
        labels: { [LABEL_OWNER]: "1", [LABEL_SLUG]: plan.slug },
        smolfile: { workdir: spec.workspace.mode === "none" ? null : GUEST_WORKSPACE, cpus: spec.resources.cpus ?? null, memory_mib: spec.resources.memory ?? null, env: envNames },
        create_argv: ["smolvm", ...createArgv({ name, smolfile: join(plan.state_dir, "smolvm", "Smolfile"), image: "<image archive>", mountSockets: [{ host: paths.gateSocket(plan.state_dir), guest: GUEST_GATE_SOCKET }], labels: { [LABEL_OWNER]: "1", [LABEL_SLUG]: plan.slug } })],
      };
    },

    // Its image archive comes from the docker backend's build or a file;
    // made inside launch, where the machine's state dir is known.
    async prepare() {},

    async launch(spec: Spec, plan: PlanJson, ctx: LaunchContext) {
      const name = machineName(plan.slug);
      const dir = join(ctx.stateDir, "smolvm");
      mkdirSync(dir, { recursive: true, mode: 0o700 });

      // Capture the secret values now: the launcher only holds them in our
      // environment while launch() runs. They stay in memory.
      const secrets = new Map<string, string>();
      for (const n of ctx.secretEnvNames) {
        const v = (opts.hostEnv ?? process.env)[n];
        if (v === undefined) throw new UserError(`secret ${n} is not set in the environment of claude-bottle; set it or remove it from the bottle`);
        secrets.set(n, v);
      }

      ctx.progress("preparing the agent image for smolvm");
      const image = spec.image ?? plan.image ?? (opts.agentImage ? await opts.agentImage(ctx) : null);
      if (!image) throw new UserError("no agent image for the smolmachines backend; set `image:` in the bottle to a `docker save` archive or a local docker image");
      const imagePath = await ensureImageArchive(image, { home, docker: opts.docker, env: runner.env(), progress: ctx.progress, onExport: ctx.imageBuild });

      const text = renderSmolfile(smolfileInput(spec, ctx.env));
      assertSealedSmolfile(text);
      const smolfilePath = join(dir, "Smolfile");
      writeFileSync(smolfilePath, text, { mode: 0o600 });

      const lockFile = lockFileFor(ctx.stateDir);
      const bottle = new SmolmachinesBottle({ slug: plan.slug, name, runner, lockFile, secrets });
      ctx.progress(`creating machine ${name}`);
      await smolvmOk(
        runner,
        createArgv({
          name,
          smolfile: smolfilePath,
          image: imagePath,
          mountSockets: [{ host: ctx.gateSocket, guest: GUEST_GATE_SOCKET }],
          labels: { [LABEL_OWNER]: "1", [LABEL_SLUG]: plan.slug },
        }),
        `create ${name}`,
      );
      try {
        ctx.progress(`starting machine ${name}`);
        await startAndWait(runner, name, lockFile, readyTimeoutMs);
        // The launcher provisions the machine next (src/provision), as it
        // does every bottle.
      } catch (e) {
        await removeMachine(runner, name).catch(() => {});
        throw e;
      }
      return bottle;
    },

    async attach(slug: string) {
      const st = await machineStatus(runner, machineName(slug));
      return st ? this.handle(slug) : null;
    },

    handle(slug: string) {
      return new SmolmachinesBottle({ slug, name: machineName(slug), runner, lockFile: lockFileFor(paths.stateDir(home, slug)), secrets: new Map() });
    },

    async list() {
      return (await listMachines(runner)).filter(ours).map((m) => ({
        slug: m.labels?.[LABEL_SLUG] as string,
        backend: "smolmachines" as const,
        status: toStatus(m.state),
        name: m.name,
      }));
    },

    // Every machine we labelled. Whether one is still in use (a live gate or
    // owner) is for the cleanup command to judge from the state dir; the
    // detail says whether that state dir still exists.
    async cleanupPlan() {
      return (await listMachines(runner)).filter(ours).map((m) => {
        const slug = m.labels?.[LABEL_SLUG] as string;
        const hasState = existsSync(paths.stateDir(home, slug));
        return { kind: "machine" as const, id: m.name, detail: `smolvm machine ${m.name} (slug ${slug}, ${m.state}${hasState ? "" : ", no state dir"})` };
      });
    },

    async cleanup(items: CleanupItem[]) {
      for (const item of items) {
        if (item.kind !== "machine") continue;
        await removeMachine(runner, item.id); // delete --force stops it first
      }
    },
  };
}

export { classifyImage };
