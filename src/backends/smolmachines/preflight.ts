import { accessSync, constants as fsConstants } from "node:fs";
import type { PreflightProblem, PreflightResult } from "../types.ts";
import { MIN_SMOLVM_VERSION } from "./constants.ts";
import { scrubbedNames } from "./env.ts";

// Preflight for the smolmachines backend. `checkPreflight` is pure (facts in,
// problems out); `probePreflight` gathers the facts.

export interface Version {
  major: number;
  minor: number;
  patch: number;
}

// clap's #[command(version)] prints "<name> <version>", here "smolvm 1.9.2"
// (src/main.rs `#[command(name = "smolvm")] #[command(version)]`). Accept a
// leading "v" and a pre-release/build suffix, which a dev build may carry.
export function parseSmolvmVersion(output: string): Version | null {
  const m = output.match(/^\s*smolvm(?:-bin)?\s+v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?\s*$/m);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export function formatVersion(v: Version): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

export interface PreflightFacts {
  platform: NodeJS.Platform;
  // null: smolvm not on PATH; otherwise what `smolvm --version` printed.
  versionOutput: string | null;
  versionExitCode?: number;
  kvm: "ok" | "missing" | "no-access"; // only meaningful on linux
  crun: boolean; // only meaningful on linux
  env: Record<string, string | undefined>;
}

const INSTALL =
  "install smolvm: `brew install smol-machines/tap/smolvm`, or `curl -sSL https://smolmachines.com/install.sh | bash` (the install script from the smolvm README)";
const FALLBACK = "or run with `--backend docker`";

export function checkPreflight(f: PreflightFacts): PreflightResult {
  const problems: PreflightProblem[] = [];
  const min = parseSmolvmVersion(`smolvm ${MIN_SMOLVM_VERSION}`) as Version;

  if (f.versionOutput === null) {
    problems.push({ what: "smolvm is not on PATH", fix: `${INSTALL}; ${FALLBACK}` });
  } else {
    const v = f.versionExitCode === undefined || f.versionExitCode === 0 ? parseSmolvmVersion(f.versionOutput) : null;
    if (!v) {
      const first = f.versionOutput.trim().split("\n")[0]?.slice(0, 120) ?? "";
      problems.push({
        what: `could not read the smolvm version (\`smolvm --version\` said: ${JSON.stringify(first)})`,
        fix: `reinstall smolvm >= ${MIN_SMOLVM_VERSION} (${INSTALL}); ${FALLBACK}`,
      });
    } else if (compareVersions(v, min) < 0) {
      problems.push({
        what: `smolvm ${formatVersion(v)} is too old (need >= ${MIN_SMOLVM_VERSION})`,
        fix: `upgrade: \`brew upgrade smolvm\`, or re-run the install script (\`curl -sSL https://smolmachines.com/install.sh | bash\`); ${FALLBACK}`,
      });
    }
  }

  if (f.platform === "linux") {
    // scripts/install.sh in smolvm warns the same way: smolvm needs KVM.
    if (f.kvm === "missing") {
      problems.push({
        what: "/dev/kvm does not exist (smolvm needs KVM)",
        fix: `enable virtualization in the firmware and load the module (\`sudo modprobe kvm_intel\` or \`kvm_amd\`); ${FALLBACK}`,
      });
    } else if (f.kvm === "no-access") {
      problems.push({
        what: "/dev/kvm is not readable and writable by this user",
        fix: `add yourself to the kvm group (\`sudo usermod -aG kvm $USER\`, then log in again); ${FALLBACK}`,
      });
    }
    // The Debian package depends on crun (packaging/nfpm.yaml); the agent runs
    // image workloads with it.
    if (!f.crun) {
      problems.push({ what: "crun is not on PATH (smolvm runs image workloads with it)", fix: `install crun (\`sudo apt install crun\` or your distribution's package); ${FALLBACK}` });
    }
  } else if (f.platform !== "darwin") {
    problems.push({ what: `smolvm does not support ${f.platform} here`, fix: FALLBACK.replace(/^or /, "") });
  }

  // Not a failure: we strip these from smolvm's environment (env.ts), but the
  // user should know their shell sets them.
  const scrubbed = scrubbedNames(f.env);
  const ok = problems.length === 0;
  if (ok && scrubbed.length > 0) {
    return {
      backend: "smolmachines",
      ok,
      problems: [{ what: `ignoring ${scrubbed.join(", ")} from your environment (they widen smolvm networking)`, fix: "nothing to do; unset them to silence this note" }],
    };
  }
  return { backend: "smolmachines", ok, problems };
}

export interface ProbeDeps {
  smolvmBin: string;
  env: Record<string, string>; // scrubbed env for the smolvm child
  hostEnv?: Record<string, string | undefined>; // our own env, for the scrub note
  platform?: NodeJS.Platform;
}

export async function probePreflight(deps: ProbeDeps): Promise<PreflightFacts> {
  const platform = deps.platform ?? process.platform;
  let versionOutput: string | null = null;
  let versionExitCode: number | undefined;
  const bin = Bun.which(deps.smolvmBin, { PATH: deps.env.PATH ?? "" }) ?? (deps.smolvmBin.includes("/") ? deps.smolvmBin : null);
  if (bin) {
    try {
      const p = Bun.spawn([bin, "--version"], { env: deps.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      versionOutput = out.trim().length > 0 ? out : err;
      versionExitCode = code;
    } catch {
      versionOutput = null;
    }
  }
  let kvm: PreflightFacts["kvm"] = "ok";
  let crun = true;
  if (platform === "linux") {
    kvm = await kvmAccess("/dev/kvm");
    crun = Bun.which("crun", { PATH: deps.env.PATH ?? "" }) !== null;
  }
  return { platform, versionOutput, versionExitCode, kvm, crun, env: deps.hostEnv ?? process.env };
}

// Two access(2) calls on a device node: synchronous (node:fs/promises cost
// every process that imports this module, `up` among them, about 1 ms).
export async function kvmAccess(path: string): Promise<PreflightFacts["kvm"]> {
  try {
    accessSync(path, fsConstants.F_OK);
  } catch {
    return "missing";
  }
  try {
    accessSync(path, fsConstants.R_OK | fsConstants.W_OK);
    return "ok";
  } catch {
    return "no-access";
  }
}
