import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../errors.ts";
import type { PlanJson } from "../../plan/types.ts";
import type { Spec } from "../../manifest/spec.ts";
import { GUEST_WORKSPACE } from "../guest.ts";
import { bottleHome, paths } from "../../state/paths.ts";
import type { Backend, BottleInfo, CleanupItem, DoorKeeper, LaunchContext, PrepareContext } from "../types.ts";
import { assertNoSecretValues, runArgv, type RunInput, type WorkspaceMounts } from "./args.ts";
import { DockerBottle, removeContainer, removeVolume } from "./bottle.ts";
import { docker, dockerMessage, isNameConflict, isNoSuchContainer, type Docker } from "./cli.ts";
import type { BridgeConf } from "./bridge.ts";
import { CLAUDE_CODE_PIN, GUEST_GATE_SOCKET, LABEL_DOOR, LABEL_OWNER, LABEL_ROLE, LABEL_SLUG, RELAY_PORT, bridgeName, containerName, doorVolumeName } from "./constants.ts";
import { agentPackageChoice, resolveBaseImage } from "./image-plan.ts";
import type { AgentImage } from "./image.ts";
import { imageBundle, trustFiles, writeTrust } from "./trust.ts";

// What only a launch, a preflight or the bridge door needs (the image
// build and check, the engine's socket, the bridge, the probes) is loaded
// when one runs: \`exec\`, \`attach\`, \`ls\` and \`down\` reach a bottle through
// handle() and list(), and paid about 7 ms of start-up for the rest.
const launchParts = () =>
  Promise.all([import("./image.ts"), import("./progress.ts"), import("./api.ts"), import("./ready.ts")]).then(([image, progress, api, ready]) => ({
    ...image,
    ...progress,
    ...api,
    ...ready,
  }));

export interface DockerOptions {
  home?: string; // default: CLAUDE_BOTTLE_HOME or ~/.claude-bottle
  dockerBin?: string; // default: "docker" on PATH
  hostEnv?: Record<string, string | undefined>; // default: process.env, read at each use
  tty?: boolean; // spinner for progress; default: stderr is a terminal
  err?: (line: string) => void; // build log (verbose or failure); default stderr
}

// What `mount` mode needs to know about the host repository (a read-only
// bind of .git/hooks and .git/config needs an existing source). `copy` is
// not a mount: the launcher's provisioning copies the workspace in.
export function workspaceMounts(mode: WorkspaceMounts["mode"], path: string | null): WorkspaceMounts {
  if (mode !== "mount" || !path) return { mode, path };
  const st = statSync(path);
  return { mode, path, gitHooks: existsSync(join(path, ".git", "hooks")), gitConfig: existsSync(join(path, ".git", "config")), owner: { uid: st.uid, gid: st.gid } };
}

interface PsRow {
  Names: string;
  State?: string;
  Labels: string;
}

interface Ours {
  name: string;
  slug: string;
  state: string | undefined;
  bridge: boolean; // the bridge door's bridge container, not a bottle
  usesBridge: boolean; // a bottle behind the bridge door
}

// `docker ps --format '{{json .}}'` prints labels as "k=v,k=v".
export function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(",")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

// The `docker run` of a bottle, from what the launch knows. bench/up.ts runs
// the same argv (its own name and image) for its `docker run` baseline, so
// the comparison stays like for like whatever flags a bottle gains.
export function bottleRunInput(a: { spec: Spec; slug: string; stateDir: string; image: string; env: RunInput["env"]; trust?: boolean; bridge?: boolean; homeTar?: string }): RunInput {
  return {
    name: containerName(a.slug),
    slug: a.slug,
    image: a.image,
    sockDir: paths.sockDir(a.stateDir),
    // The bridge door mounts no host file: trust comes from provisioning.
    ...(a.bridge ? { doorVolume: doorVolumeName(a.slug) } : a.trust === false ? {} : { trust: trustFiles(a.stateDir) }),
    env: a.env,
    resources: a.spec.resources,
    workspace: workspaceMounts(a.spec.workspace.mode, a.spec.workspace.path),
    ...(a.homeTar !== undefined && !a.bridge ? { homeTar: a.homeTar } : {}),
  };
}

export function toStatus(state: string | undefined): BottleInfo["status"] {
  if (state === "running" || state === "created") return state;
  if (state === "exited" || state === "dead" || state === "paused") return "stopped";
  return "unknown";
}

export function createDockerBackend(opts: DockerOptions = {}): Backend {
  const hostEnv = () => opts.hostEnv ?? process.env;
  const home = () => opts.home ?? bottleHome(hostEnv());
  // Read at each spawn: the launcher holds secret values in our environment
  // only while launch() runs, and docker takes them from there by name.
  const d: Docker = { bin: opts.dockerBin ?? "docker", env: hostEnv };
  const err = opts.err ?? ((l: string) => void process.stderr.write(l + "\n"));

  // Every container we labelled: bottles, and the bridge door's bridges
  // (role "bridge"), with whether a bottle uses the bridge door.
  async function listOurs(): Promise<Ours[]> {
    const c = await docker(d, ["ps", "-a", "--no-trunc", "--filter", `label=${LABEL_OWNER}=1`, "--format", "{{json .}}"]);
    if (c.code !== 0) throw new UserError(`docker could not list containers: ${dockerMessage(c.stderr, c.code)}`);
    const out: Ours[] = [];
    for (const line of c.stdout.split("\n")) {
      if (!line.trim()) continue;
      const row = JSON.parse(line) as PsRow;
      const l = parseLabels(row.Labels ?? "");
      const slug = l[LABEL_SLUG];
      if (!slug) continue;
      out.push({ name: row.Names.split(",")[0]!, slug, state: row.State, bridge: l[LABEL_ROLE] === "bridge", usesBridge: l[LABEL_DOOR] === "bridge" });
    }
    return out;
  }

  async function listVolumes(): Promise<{ name: string; slug: string }[]> {
    const c = await docker(d, ["volume", "ls", "--filter", `label=${LABEL_OWNER}=1`, "--format", "{{json .}}"]);
    if (c.code !== 0) throw new UserError(`docker could not list volumes: ${dockerMessage(c.stderr, c.code)}`);
    return c.stdout
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { Name: string; Labels?: string })
      .map((v) => ({ name: v.Name, slug: parseLabels(v.Labels ?? "")[LABEL_SLUG] ?? "" }))
      .filter((v) => v.slug);
  }

  async function containerState(name: string): Promise<string | null> {
    const c = await docker(d, ["container", "inspect", "--format", `{{.State.Status}} {{index .Config.Labels "${LABEL_OWNER}"}}`, name]);
    if (c.code !== 0) {
      if (isNoSuchContainer(c.stderr)) return null;
      throw new UserError(`docker could not inspect ${name}: ${dockerMessage(c.stderr, c.code)}`);
    }
    const [state, owner] = c.stdout.trim().split(" ");
    if (owner !== "1") throw new UserError(`a container named ${name} exists but was not made by claude-bottle; remove or rename it`);
    return state ?? "unknown";
  }

  // The agent image (and its CA bundle) for a spec, started by prepare()
  // and taken by the launch that follows; a launch without a prepare
  // starts it itself.
  const prepared = new Map<string, Promise<{ image: AgentImage; bundle: string | null }>>();
  const keyOf = (spec: Spec) => spec.image ?? "";
  function startPrepare(spec: Spec, ctx: PrepareContext): Promise<{ image: AgentImage; bundle: string | null }> {
    const p = (async () => {
      const { createSteps, ensureAgentImage } = await launchParts();
      const steps = createSteps({ tty: opts.tty ?? Boolean(process.stderr.isTTY), line: ctx.progress });
      let image: AgentImage;
      try {
        image = await ensureAgentImage({ docker: d, home: home(), specImage: spec.image, hostEnv: hostEnv(), steps, verbose: ctx.verbose, err, onBuild: ctx.imageBuild });
      } finally {
        steps.done();
      }
      return { image, bundle: await imageBundle(d, home(), image) };
    })();
    prepared.set(keyOf(spec), p);
    p.catch(() => {}); // awaited by the launch; never an unhandled rejection
    return p;
  }
  function takePrepared(spec: Spec, ctx: PrepareContext) {
    const p = prepared.get(keyOf(spec)) ?? startPrepare(spec, ctx);
    prepared.delete(keyOf(spec));
    return p;
  }

  // Seen from the host (ready.ts) where it can be: true once the relay
  // listens, false when only an exec could tell. A bottle that stopped
  // as it started (its home did not unpack) is the launch's failure.
  async function seededRelayListens(id: string, slug: string, name: string): Promise<boolean> {
    const { cliSocket, containerFactsOnSocket, waitRelayOnHost } = await launchParts();
    const socket = cliSocket(hostEnv());
    const ask = socket ? () => containerFactsOnSocket(socket, id) : null;
    const w = await waitRelayOnHost(ask ? await ask() : null, ask ? { refresh: ask } : {});
    if (w === "listening") return true;
    if (w === "unknown") return false;
    const logs = await docker(d, ["logs", "--tail", "5", name]);
    const said = dockerMessage(logs.stderr + logs.stdout, logs.code);
    throw new UserError(
      w === "exited" ? `bottle ${slug} stopped as it started: ${said}` : `the gate relay in bottle ${slug} did not start listening (its log: ${said})`,
    );
  }

  return {
    name: "docker",

    async prepare(spec: Spec, ctx: PrepareContext) {
      await startPrepare(spec, ctx);
    },
    about: {
      label: "docker",
      sealLine: "the bottle is a container started with --network none, all capabilities dropped and no-new-privileges.",
      imageLine: "Building the agent image (Node.js, git, Claude Code). This takes a few minutes once; later bottles reuse it.",
    },

    // An engine in a VM (Docker Desktop, OrbStack, colima) is fine: the
    // plan gives it the bridge door (backends/door.ts).
    async preflight() {
      const { probeDocker } = await import("../select.ts");
      const p = probeDocker(hostEnv());
      return { backend: "docker", ok: p.problems.length === 0, problems: [...p.problems] };
    },

    describe(spec: Spec, plan: PlanJson) {
      const name = containerName(plan.slug);
      const secretNames = plan.env.filter((e) => e.mode !== "literal").map((e) => e.name);
      const plain = Object.fromEntries(plan.env.filter((e) => e.mode === "literal").map((e) => [e.name, "<value>"]));
      let agentPackage: string;
      try {
        const c = agentPackageChoice(hostEnv());
        agentPackage = c.kind === "pinned" ? CLAUDE_CODE_PIN : c.kind === "none" ? "none (tests only)" : c.path;
      } catch (e) {
        agentPackage = (e as Error).message;
      }
      const bridge = plan.door?.kind === "bridge";
      return {
        container: name,
        base_image: resolveBaseImage(spec.image, hostEnv()),
        agent_package: agentPackage,
        network: "none (only lo); the gate socket is the only way out",
        relay: `127.0.0.1:${RELAY_PORT} -> ${GUEST_GATE_SOCKET}`,
        labels: { [LABEL_OWNER]: "1", [LABEL_SLUG]: plan.slug },
        run_argv: [
          "docker",
          ...runArgv({
            name,
            slug: plan.slug,
            image: "<agent image>",
            sockDir: paths.sockDir(plan.state_dir),
            ...(bridge ? { doorVolume: doorVolumeName(plan.slug) } : { trust: trustFiles(plan.state_dir), homeTar: paths.homeTar(plan.state_dir) }),
            env: { plain, secretNames },
            resources: spec.resources,
            workspace: { mode: spec.workspace.mode, path: spec.workspace.path, gitHooks: true, gitConfig: true },
          }),
        ],
        ...(bridge ? { bridge: { container: bridgeName(plan.slug), volume: doorVolumeName(plan.slug), gate: `${plan.door!.gate_listen}:<port>`, add_host: plan.door!.add_host } } : {}),
        workspace: spec.workspace.mode === "none" ? "empty /workspace" : `${spec.workspace.mode} of ${spec.workspace.path} at ${GUEST_WORKSPACE}`,
      };
    },

    async launch(spec: Spec, plan: PlanJson, ctx: LaunchContext) {
      const env = hostEnv();
      const name = containerName(plan.slug);
      const secrets: Record<string, string> = {};
      for (const n of ctx.secretEnvNames) {
        const v = env[n];
        if (v === undefined) throw new UserError(`secret ${n} is not set in the environment of claude-bottle; set it or remove it from the bottle`);
        secrets[n] = v;
      }

      const { image, bundle } = await takePrepared(spec, ctx);

      const door = ctx.door;
      let bridgeUp: Promise<void> = Promise.resolve();
      if (door) {
        // The bridge door: the volume first (both containers mount it), then
        // the bridge beside the bottle. The bottle's trust comes from
        // provisioning: the engine may not see the state dir's files.
        const { createDoorVolume, runBridge, writeBridgeConf } = await import("./bridge.ts");
        const conf: BridgeConf = { slug: plan.slug, image: image.tag, gate: door.gate, add_host: door.addHost };
        writeBridgeConf(ctx.stateDir, conf);
        await createDoorVolume(d, plan.slug);
        ctx.progress(`starting bridge container ${bridgeName(plan.slug)}`);
        bridgeUp = runBridge(d, conf, door.token);
        // Settled even if the bottle's run fails first (the caller's undo
        // removes both); its own failure is reported below.
        bridgeUp.catch(() => {});
      } else {
        // The bottle's trust store: the image's bundle (cached per image)
        // plus the bottle's CA, mounted at start (trust.ts). An image whose
        // bundle could not be read gets no mount: provisioning then appends
        // the CA to the image's own bundle (its root step).
        const caFile = join(paths.caDir(ctx.stateDir), "ca.crt");
        if (!existsSync(caFile)) throw new UserError(`the bottle's CA certificate ${caFile} is missing; run 'claude-bottle down' and start again`);
        if (bundle !== null) writeTrust(ctx.stateDir, bundle, readFileSync(caFile, "utf8"));
      }

      const envArgs = { plain: ctx.env, secretNames: ctx.secretEnvNames };
      // The home goes in as the bottle starts (not behind the bridge door,
      // where the engine may not see the tar): no exec for it.
      const homeTar = door ? undefined : ctx.homeTar;
      const argv = runArgv(bottleRunInput({ spec, slug: plan.slug, stateDir: ctx.stateDir, image: image.tag, env: envArgs, trust: bundle !== null, bridge: Boolean(door), homeTar }));
      assertNoSecretValues(argv, secrets);
      ctx.progress(`starting container ${name}`);
      let r = await docker(d, argv);
      if (r.code !== 0 && isNameConflict(r.stderr)) {
        // A leftover container of this slug (e.g. `resume` after a crash) is
        // replaced; a running one is someone's live session and is left
        // alone. Asked only on a conflict: a launch pays for no extra call.
        if ((await containerState(name)) === "running") {
          throw new UserError(`bottle ${plan.slug} is already running as ${name}; 'claude-bottle attach ${plan.slug}' or 'claude-bottle down ${plan.slug}'`);
        }
        await removeContainer(d, name);
        r = await docker(d, argv);
      }
      if (r.code !== 0) {
        // `run` can fail after creating the container (a start error).
        if (!isNameConflict(r.stderr)) await removeContainer(d, name).catch(() => {});
        await bridgeUp.catch(() => {});
        throw new UserError(`docker could not start ${name}: ${mountHint(dockerMessage(r.stderr, r.code), Boolean(door))}`);
      }
      await bridgeUp;
      // The launcher provisions the bottle next (src/provision): whatever
      // the start did not do (or we could not see done) takes its one exec,
      // which also waits for the relay to listen.
      const relay = homeTar !== undefined && (await seededRelayListens(r.stdout.trim(), plan.slug, name));
      const started = { home: homeTar !== undefined, trust: !door && bundle !== null, relay };
      return new DockerBottle(plan.slug, name, d, door ? { bridge: bridgeName(plan.slug), volume: doorVolumeName(plan.slug) } : undefined, started);
    },

    async attach(slug: string) {
      return (await containerState(containerName(slug))) === null ? null : this.handle(slug);
    },

    // Behind the bridge door (its bridge.json is written before the bridge
    // or its volume exist) the handle removes those too.
    handle(slug: string) {
      const bridge = existsSync(paths.bridge(paths.stateDir(home(), slug)));
      return new DockerBottle(slug, containerName(slug), d, bridge ? { bridge: bridgeName(slug), volume: doorVolumeName(slug) } : undefined);
    },

    async list() {
      const all = await listOurs();
      const bridges = new Map(all.filter((c) => c.bridge).map((c) => [c.slug, c.state]));
      return all
        .filter((c) => !c.bridge)
        .map((c) => ({
          slug: c.slug,
          backend: "docker" as const,
          status: toStatus(c.state),
          name: c.name,
          ...(c.usesBridge ? { door: bridges.get(c.slug) === "running" ? ("up" as const) : ("down" as const) } : {}),
        }));
    },

    // Every container and volume we labelled. Whether one is still in use
    // (a live gate or owner) is for the cleanup command to judge from the
    // state dir.
    async cleanupPlan() {
      const [containers, volumes] = await Promise.all([listOurs(), listVolumes()]);
      const stateless = (slug: string) => (existsSync(paths.stateDir(home(), slug)) ? "" : ", no state dir");
      const items: CleanupItem[] = containers.map((c) => ({
        kind: "container" as const,
        id: c.name,
        slug: c.slug,
        door: c.bridge,
        detail: `docker container ${c.name} (${c.bridge ? "bridge of " : ""}slug ${c.slug}, ${c.state ?? "unknown"}${stateless(c.slug)})`,
      }));
      for (const v of volumes) items.push({ kind: "volume", id: v.name, slug: v.slug, door: true, detail: `docker volume ${v.name} (door of slug ${v.slug}${stateless(v.slug)})` });
      return items;
    },

    // Containers first: a volume cannot go while a container mounts it.
    async cleanup(items: CleanupItem[]) {
      await Promise.all(items.filter((i) => i.kind === "container").map((i) => removeContainer(d, i.id)));
      for (const item of items) {
        if (item.kind === "volume") await removeVolume(d, item.id);
      }
    },

    // The bridge's conf is read at each check: with -d the supervisor starts
    // as soon as the gate answers, before the launch has written it.
    doorKeeper(slug: string, stateDir: string, token: string): DoorKeeper {
      return {
        what: "bridge",
        async ensure() {
          const { ensureBridge, readBridgeConf } = await import("./bridge.ts");
          const conf = readBridgeConf(stateDir);
          return conf && conf.slug === slug ? ensureBridge(d, conf, token) : null;
        },
      };
    },
  };
}

// The bridge door: a `mount` workspace is the one host path still mounted,
// and the engine must share it (Docker Desktop: Settings > Resources > File
// sharing; colima: only $HOME by default).
function mountHint(message: string, bridge: boolean): string {
  if (!bridge || !/bind source path does not exist|mounts denied|not shared/i.test(message)) return message;
  return `${message}; the docker engine cannot see that folder: share it with the engine (Docker Desktop: Settings > Resources > File sharing) or use workspace: copy`;
}


export { DockerBottle } from "./bottle.ts";
