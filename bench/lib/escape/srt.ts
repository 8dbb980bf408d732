import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SandboxRun } from "../../../src/selftest/runner.ts";
import { wrapScript } from "../../../src/selftest/script.ts";
import type { Attack, AttackContext } from "../../../src/selftest/types.ts";
import { NAMES, WORKSPACE_FILE, worldContext, type World } from "../../../src/selftest/world.ts";

// Anthropic's sandbox-runtime (`srt`, the devDependency's pinned version) in
// the escape suite's world, with the policy the bottle has: the allowed host
// on both upstream ports, the other allowed host and the wildcard domain on
// the HTTPS port (the wildcard also on the host's loopback service port, as
// the bottle's route), nothing else; the planted secrets and the credential in
// its env; the world's workspace as its working folder.
//
//   srt        — the allowlist only: secrets and credential as they are.
//   srt-masked — plus TLS termination (`network.tlsTerminate`, an ephemeral
//                CA) and credential masking (`credentials.envVars`, mode
//                "mask"): the credential is injected at its host only, like
//                the bottle's; srt refuses a masked value with no inject host,
//                so each planted secret is injected at the other allowed host
//                (the catalogue sends them to the credential's host, and once
//                to the other one: 3.body-other-host).
//
// Every attack's shell body runs in a fresh `srt --settings <file> -- sh -s`
// (the script on stdin, never argv), so each gets its own proxy and
// sandbox, as a command an agent runs would.

export type SrtMode = "srt" | "srt-masked";

export interface SrtUnderTest {
  mode: SrtMode;
  settings: unknown; // as written to the settings file (no secret values)
  ctx: AttackContext;
  run(a: Attack): Promise<SandboxRun>;
}

export const SRT_BIN = join(import.meta.dir, "..", "..", "..", "node_modules", ".bin", "srt");
const SRT_PACKAGE = join(import.meta.dir, "..", "..", "..", "node_modules", "@anthropic-ai", "sandbox-runtime");

// srt refuses an allowed NAME that resolves to loopback unless that address
// and port are allowed as an IP literal (its README, "Resolved-address
// check"): the equivalent of the bottle's `allow_private: true` on these
// routes, since the recording upstream listens on the host's loopback.
export function srtSettings(world: World, mode: SrtMode): unknown {
  const { httpsPort, httpPort } = world.rx.upstream;
  const network: Record<string, unknown> = {
    allowedDomains: [
      `${NAMES.allowed}:${httpsPort}`,
      `${NAMES.allowed}:${httpPort}`,
      `${NAMES.other}:${httpsPort}`,
      `*.${NAMES.wild}:${httpsPort}`,
      // The wildcard route also lists the host's loopback service port (the
      // rebinding attack): a name under it that resolves to 127.0.0.1 must
      // still not reach that service.
      `*.${NAMES.wild}:${world.rx.loopback.port}`,
      `127.0.0.1:${httpsPort}`,
      `127.0.0.1:${httpPort}`,
    ],
    deniedDomains: [],
    strictAllowlist: true,
  };
  // What the bottle's filesystem is: the system, the workspace, a private
  // /tmp. A denied folder is an empty writable tmpfs inside (srt README), so
  // /tmp is private (and fresh for every attack); the workspace, the trust
  // bundle, srt's own folder (its sockets and CA, under its TMPDIR) and its
  // seccomp helper (in its package) are bound back.
  const filesystem = {
    denyRead: [...hostOnlyFolders(), "/tmp"],
    allowRead: [world.workspace, trustDir(world), srtTmp(world), SRT_PACKAGE],
    allowWrite: [world.workspace],
    denyWrite: [],
  };
  if (mode === "srt") return { network, filesystem };
  return {
    network: { ...network, tlsTerminate: {} },
    filesystem,
    credentials: {
      envVars: [
        { name: world.credential.envVar, mode: "mask", injectHosts: [NAMES.allowed] },
        ...world.secrets.map((s) => ({ name: s.name, mode: "mask", injectHosts: [NAMES.other] })),
      ],
    },
  };
}

// Every top-level folder but the system's (homes, /var, /opt, /srv, /run,
// /work, whatever else this host has): a bottle has none of them.
const SYSTEM = new Set(["bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "sys", "tmp"]);
function hostOnlyFolders(): string[] {
  return readdirSync("/", { withFileTypes: true })
    .filter((d) => d.isDirectory() && !SYSTEM.has(d.name))
    .map((d) => `/${d.name}`);
}

const trustDir = (world: World) => join(world.dir, "srt-trust");
const srtTmp = (world: World) => join(world.dir, "srt-tmp");

// srt starts the socat that bridges the sandbox's localhost:3128 to its
// proxy in the background, next to the command: an attack can run before
// it listens (measured: 2 of 150 attacks in one run met a refused
// connection). Wait for it, as an agent's next command would find it; the
// peer judge fails an attack that met it closed anyway.
// srt points TMPDIR at /tmp/claude, which it binds in when /tmp is the
// host's; our /tmp is a private tmpfs, so make it (mktemp -d needs it).
const PROXY_READY = `bash -c 'for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/3128) 2>/dev/null && exit 0; sleep 0.05; done' 2>/dev/null\nmkdir -p "$TMPDIR"\n`;

export function startSrt(world: World, mode: SrtMode, nonce: string): SrtUnderTest {
  const dir = trustDir(world);
  mkdirSync(dir, { recursive: true });
  mkdirSync(srtTmp(world), { recursive: true });
  // The recording upstream's CA: srt's own proxy verifies upstreams with
  // the system roots and NODE_EXTRA_CA_CERTS; without termination the client
  // inside verifies them itself and reads the usual variables (srt-masked
  // replaces them inside with its own bundle).
  const ca = join(dir, "upstream-ca.pem");
  writeFileSync(ca, world.rx.upstream.ca.certPem);
  const settings = srtSettings(world, mode);
  const file = join(world.dir, `${mode}.json`);
  writeFileSync(file, JSON.stringify(settings, null, 2));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: process.env.HOME ?? "/root",
    LANG: "C.UTF-8",
    TMPDIR: srtTmp(world),
    NODE_EXTRA_CA_CERTS: ca,
    SSL_CERT_FILE: ca,
    CURL_CA_BUNDLE: ca,
    GIT_SSL_CAINFO: ca,
    [world.credential.envVar]: world.credential.realValue,
    ...Object.fromEntries(world.secrets.map((s) => [s.name, s.value])),
  };
  // Inside srt the proxy URL carries a per-session password: the
  // attacks read it from the sandbox's own HTTP_PROXY.
  const ctx = worldContext(world, { nonce, proxy: "http://localhost:3128", proxyEnv: "HTTP_PROXY", workspaceFilePath: join(world.workspace, WORKSPACE_FILE) });
  return {
    mode,
    settings,
    ctx,
    run: async (a) => {
      const p = Bun.spawn([SRT_BIN, "--settings", file, "--", "sh", "-s"], {
        cwd: world.workspace,
        env,
        stdin: new TextEncoder().encode(PROXY_READY + wrapScript(a, ctx)),
        stdout: "pipe",
        stderr: "pipe",
        timeout: 180_000,
      });
      const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { exec: { code, stdout, stderr }, audit: () => [] };
    },
  };
}
