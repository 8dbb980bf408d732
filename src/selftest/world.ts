import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AttackContext, Endpoint } from "./types.ts";
import { startDnsRecorder } from "./receivers/dns.ts";
import { startReceivers, type Receivers } from "./receivers/index.ts";
import type { Window } from "./receivers/record.ts";

// The world an escape suite attacks into, for any sandbox: the planted
// secrets, the host names, the receivers standing in for the internet and
// the host's services, a git upstream whose refs are a receiver, and a
// workspace with an undeclared copy of one secret. `claude-bottle selftest`
// puts one bottle in it; `bun run bench:escape` puts the bottle and a peer
// in the same one, so every side is judged by the same receivers.

export const NAMES = {
  allowed: "allowed.selftest.test", // allowed, and the credential's host
  other: "other.selftest.test", // allowed, no credential
  evil: "evil.selftest.test", // allowed by no policy
  wild: "wild.selftest.test", // *.<this> is allowed
} as const;

export interface Secret {
  name: string;
  value: string;
}

// Planted secrets, shaped like the real thing so the credential rules see
// them, but random per run so no real key is ever involved.
export function plantedSecrets(): Secret[] {
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

// The secret the workspace file holds an undeclared copy of: the key a
// coding agent's repository is most likely to have in a forgotten `.env`.
export const WORKSPACE_SECRET = "TEST_SECRET_ANTHROPIC";
export const WORKSPACE_FILE = ".env";

export interface World {
  dir: string;
  rx: Receivers;
  secrets: Secret[];
  credential: { envVar: string; realValue: string };
  gitUpstream: string; // a bare repository on the host
  workspace: string; // host folder whose WORKSPACE_FILE holds the copy
  resolver: Endpoint | null; // the DNS recorder the host resolves through, when asked for
  // What every receiver got since the last call, plus a change of the git
  // upstream's refs (an arrival of kind "git").
  collect(): Window;
  stop(): void;
}

export async function startWorld(opts: {
  dir: string; // a private, empty directory
  // Also answer and record the host's own name lookups, on port 53 (a
  // resolv.conf names no port) of the first of these addresses that is
  // free. Only a run that can point the host's resolver at it
  // (bench/escape.ts, in a mount namespace of its own) asks.
  resolverAddresses?: string[];
}): Promise<World> {
  const secrets = plantedSecrets();
  const credential = { envVar: "SELFTEST_TOKEN", realValue: "stk_" + crypto.randomUUID().replaceAll("-", "") };
  const rx = await startReceivers({ names: [NAMES.allowed, NAMES.other, NAMES.evil, `*.${NAMES.wild}`], dir: opts.dir });
  const stops: (() => void)[] = [() => rx.stop()];
  try {
    let resolver: Endpoint | null = null;
    // Every test name is the recording upstream on the host's loopback: a
    // door that resolves a name it should not have, and then connects,
    // delivers to a receiver.
    const ours = (n: string) => n === NAMES.allowed || n === NAMES.other || n === NAMES.evil || n === NAMES.wild || n.endsWith(`.${NAMES.wild}`);
    for (const host of opts.resolverAddresses ?? []) {
      try {
        const d = await startDnsRecorder({ host, port: 53, label: "host-resolver", log: rx.log, answers: (n) => (ours(n) ? { A: "127.0.0.1" } : null) });
        stops.push(() => d.stop());
        resolver = { label: "host-resolver", host: d.host, port: d.port };
        break;
      } catch {
        // taken (another run's resolver): the next address
      }
    }
    if (opts.resolverAddresses && !resolver) throw new Error(`no free address for the DNS recorder on port 53 among ${opts.resolverAddresses.join(", ")}`);

    const gitUpstream = join(opts.dir, "upstream.git");
    Bun.spawnSync(["git", "init", "-q", "--bare", gitUpstream]);
    const refsOf = () => Bun.spawnSync(["git", "-C", gitUpstream, "for-each-ref"], { stdout: "pipe" }).stdout.toString();

    const workspace = join(opts.dir, "workspace");
    mkdirSync(workspace, { recursive: true });
    const copied = secrets.find((s) => s.name === WORKSPACE_SECRET)!;
    writeFileSync(join(workspace, WORKSPACE_FILE), `# local settings\nANTHROPIC_API_KEY=${copied.value}\n`);

    let refs = refsOf();
    const collect = (): Window => {
      const w = rx.log.take();
      const now = refsOf();
      if (now !== refs) w.arrivals.push({ kind: "git", receiver: "git upstream", from: "", text: `refs changed:\n${now}`, bytes: now.length });
      refs = now;
      return w;
    };
    return {
      dir: opts.dir,
      rx,
      secrets,
      credential,
      gitUpstream,
      workspace,
      resolver,
      collect,
      stop: () => {
        for (const s of stops.splice(0).reverse()) s();
      },
    };
  } catch (e) {
    for (const s of stops) s();
    throw e;
  }
}

// The attack context of one sandbox in this world: everything but how the
// sandbox sees its proxy and where its workspace file is.
export function worldContext(
  world: World,
  sandbox: { nonce: string; proxy: string; proxyEnv?: string; workspaceFilePath: string },
): AttackContext {
  const { httpsPort, httpPort } = world.rx.upstream;
  return {
    nonce: sandbox.nonce,
    proxy: sandbox.proxy,
    ...(sandbox.proxyEnv ? { proxyEnv: sandbox.proxyEnv } : {}),
    allowedHost: NAMES.allowed,
    allowedHttpsUrl: `https://${NAMES.allowed}:${httpsPort}/`,
    allowedHttpUrl: `http://${NAMES.allowed}:${httpPort}/`,
    evilHost: NAMES.evil,
    secrets: world.secrets,
    credential: { ...world.credential, placeholderHost: NAMES.allowed },
    otherAllowedHost: NAMES.other,
    wildcardDomain: NAMES.wild,
    hostTcp: world.rx.tcp,
    hostUdp: world.rx.udp,
    hostDns: world.rx.dns,
    hostLoopback: world.rx.loopback,
    hostUnixSocket: world.rx.unix,
    gitRemoteUrl: world.gitUpstream,
    workspaceSecret: { path: sandbox.workspaceFilePath, secretName: WORKSPACE_SECRET },
  };
}
