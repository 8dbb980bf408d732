import { writeFileSync } from "node:fs";
import * as z from "../../zod.ts";
import { UserError } from "../../errors.ts";
import { readJsonFile } from "../../state/json.ts";
import { paths } from "../../state/paths.ts";
import { cliSocket, containerStateOnSocket } from "./api.ts";
import { assertNoSecretValues, volumeMountArg } from "./args.ts";
import { docker, dockerMessage, isNameConflict, isNoSuchContainer, type Docker } from "./cli.ts";
import { GUEST_GATE_SOCKET, GUEST_SOCK_DIR, GUEST_USER, LABEL_OWNER, LABEL_ROLE, LABEL_SLUG, bridgeName, doorVolumeName } from "./constants.ts";
import { GATE_HOST_NAME } from "./engine.ts";

// The bridge door (docs/design/docker-desktop.md). Where a host unix socket
// cannot reach the bottle (the engine runs in a VM, or cannot see our
// files), the gate's socket lives in a docker volume instead: a per-bottle
// bridge container serves it there and carries every connection to the
// gate's TCP door, sending the bottle's token first. The bottle mounts the
// volume read-only where the unix door would have put the socket folder;
// its relay and everything in it are unchanged, and it still has no network.
//
// The bridge runs our agent image (it is there already; nothing of the agent
// runs) as `node`, with no capability, a read-only root, and only this
// script. Its token comes by env NAME (`-e DOOR_TOKEN`, the value in the
// docker CLI's environment), never on an argv or in a file of ours.

export const TOKEN_ENV = "DOOR_TOKEN";

// The relay in the bridge. Node's net module (the image has node): one gate
// connection per bottle connection, the hello first (its format is the
// gate's, gate/door.ts: a backend does not import the gate, so it is
// written out here; the lifecycle tests go through both), then bytes both ways.
// Half-closes pass through (a client may end its request and wait for the
// answer). A connection the gate refuses is closed on the bottle too: while
// the gate is down the bottle has no way out. Arguments: socket, host, port.
export const BRIDGE_SCRIPT = `"use strict";
const net = require("net"), fs = require("fs");
const [sock, host, port] = process.argv.slice(1);
const token = process.env.${TOKEN_ENV} || "";
delete process.env.${TOKEN_ENV};
if (!/^[0-9a-f]{64}$/.test(token)) { console.error("bridge: no door token in ${TOKEN_ENV}"); process.exit(2); }
const hello = Buffer.from("claude-bottle-door/1 " + token + "\\n", "latin1");
try { fs.unlinkSync(sock); } catch {}
const server = net.createServer({ allowHalfOpen: true }, (bottle) => {
  const gate = net.connect({ host, port: Number(port), allowHalfOpen: true });
  gate.setNoDelay(true);
  gate.write(hello);
  bottle.pipe(gate);
  gate.pipe(bottle);
  const cut = () => { bottle.destroy(); gate.destroy(); };
  bottle.on("error", cut);
  gate.on("error", cut);
  bottle.on("close", cut);
  gate.on("close", cut);
});
server.on("error", (e) => { console.error("bridge: " + e.message); process.exit(1); });
server.listen(sock, () => { fs.chmodSync(sock, 0o666); console.log("bridge: " + sock + " -> " + host + ":" + port); });
process.on("SIGTERM", () => process.exit(0));
`;

// What it takes to (re)create a bottle's bridge, without the token:
// <state>/bridge.json, written at launch, read by the supervisor.
export const bridgeConfSchema = z.object({
  slug: z.string(),
  image: z.string(),
  gate: z.object({ host: z.string(), port: z.int() }),
  add_host: z.nullable(z.string()),
});
export type BridgeConf = z.output<typeof bridgeConfSchema>;

export function writeBridgeConf(stateDir: string, conf: BridgeConf): void {
  writeFileSync(paths.bridge(stateDir), JSON.stringify(bridgeConfSchema.parse(conf), null, 2) + "\n", { mode: 0o600 });
}

export function readBridgeConf(stateDir: string): BridgeConf | null {
  const r = readJsonFile(paths.bridge(stateDir), bridgeConfSchema);
  return r.ok ? r.value : null;
}

const labels = (slug: string, role: string) => ["--label", `${LABEL_OWNER}=1`, "--label", `${LABEL_SLUG}=${slug}`, "--label", `${LABEL_ROLE}=${role}`];

export function volumeCreateArgv(slug: string): string[] {
  return ["volume", "create", ...labels(slug, "door"), doorVolumeName(slug)];
}

// Pure. The gate's address goes in plain (-e is not needed: it is an
// argument of the script); the token by name only.
export function bridgeRunArgv(conf: BridgeConf): string[] {
  return [
    "run",
    "-d",
    "--name",
    bridgeName(conf.slug),
    ...labels(conf.slug, "bridge"),
    "--user",
    GUEST_USER,
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--pids-limit",
    "64",
    "--memory",
    "128m",
    "--init",
    ...(conf.add_host ? ["--add-host", conf.add_host] : []),
    "-e",
    TOKEN_ENV,
    "--mount",
    volumeMountArg(doorVolumeName(conf.slug), GUEST_SOCK_DIR, false),
    "--entrypoint",
    "node",
    conf.image,
    "-e",
    BRIDGE_SCRIPT,
    GUEST_GATE_SOCKET,
    GATE_HOST_NAME,
    String(conf.gate.port),
  ];
}

// The docker CLI for the one call that needs the token: our usual child
// environment plus the token, by the name the argv references.
function withToken(d: Docker, token: string): Docker {
  // The gate accepts no other shape (gate/door.ts): fail here, not in the bridge.
  if (!/^[0-9a-f]{64}$/.test(token)) throw new Error("a door token is 64 lowercase hex digits");
  return { bin: d.bin, env: () => ({ ...d.env(), [TOKEN_ENV]: token }) };
}

export async function createDoorVolume(d: Docker, slug: string): Promise<void> {
  const r = await docker(d, volumeCreateArgv(slug));
  if (r.code !== 0) throw new UserError(`docker could not create the volume ${doorVolumeName(slug)} for the bridge door: ${dockerMessage(r.stderr, r.code)}`);
}

// Starts the bridge container; a leftover one of this slug (resume after a
// crash) is replaced.
export async function runBridge(d: Docker, conf: BridgeConf, token: string): Promise<void> {
  const argv = bridgeRunArgv(conf);
  assertNoSecretValues(argv, { [TOKEN_ENV]: token });
  const dt = withToken(d, token);
  let r = await docker(dt, argv);
  if (r.code !== 0 && isNameConflict(r.stderr)) {
    await removeNamed(d, bridgeName(conf.slug));
    r = await docker(dt, argv);
  }
  if (r.code !== 0) {
    if (!isNameConflict(r.stderr)) await removeNamed(d, bridgeName(conf.slug)).catch(() => {});
    throw new UserError(`docker could not start the bridge container ${bridgeName(conf.slug)}: ${dockerMessage(r.stderr, r.code)}`);
  }
}

// The keeper's one move: the bridge is running, or it is brought back (a
// stopped or killed one is started again, as it was: its token is in its
// container config; a removed one is created anew with the token the
// caller holds). Returns what was wrong, or null when nothing was.
export async function ensureBridge(d: Docker, conf: BridgeConf, token: string): Promise<string | null> {
  const name = bridgeName(conf.slug);
  // Asked on the engine's socket when the CLI would use it (no process
  // start every 2 s); else, or when that fails, through the CLI.
  const socket = cliSocket(d.env());
  const fast = socket !== null ? await containerStateOnSocket(socket, name) : undefined;
  if (fast === "running") return null;
  const c = fast === null ? { code: 1, stdout: "", stderr: "No such container" } : await docker(d, ["container", "inspect", "--format", "{{.State.Status}}", name]);
  if (c.code === 0) {
    const state = c.stdout.trim();
    if (state === "running") return null;
    const s = await docker(d, ["start", name]);
    if (s.code === 0) return `bridge container ${name} was ${state}`;
    await removeNamed(d, name);
  } else if (!isNoSuchContainer(c.stderr)) {
    throw new UserError(`docker could not inspect ${name}: ${dockerMessage(c.stderr, c.code)}`);
  }
  await createDoorVolume(d, conf.slug); // idempotent; a removed volume is made again
  await runBridge(d, conf, token);
  return `bridge container ${name} was gone`;
}

async function removeNamed(d: Docker, name: string): Promise<void> {
  const c = await docker(d, ["rm", "-f", name]);
  if (c.code === 0 || isNoSuchContainer(c.stderr) || /already in progress/i.test(c.stderr)) return;
  throw new UserError(`docker could not remove ${name}: ${dockerMessage(c.stderr, c.code)}`);
}
