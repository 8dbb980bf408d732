import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// A second docker engine on this machine that cannot see our files: the
// Debian dockerd, started in its own mount namespace (unshare -m) where /tmp
// is a private tmpfs and its data root lives there too (in memory: written
// and thrown away in no time, where a data root on this machine's disk took
// over a minute to delete; it vanishes with the namespace). What it shares
// with us is the kernel and the network namespace; what it does not is
// every path under our /tmp, where the tests keep their state dirs and
// repositories. That is the situation of Docker Desktop's VM that Linux CI
// can reproduce: a bind mount of a host path fails, a unix socket cannot be
// passed in, and `docker info` reports a data root that is not here.
//
// It must not disturb the engine everyone else uses: its own exec root,
// pidfile, data root and API socket, its own bridge interface and subnet,
// no iptables rules, no ip_forward change, its own cgroup parent, and its
// own containerd (the main engine's is under /var/run/docker, not the
// system path a second dockerd would look for). Everything is removed by
// stop().

export interface SecondDockerd {
  host: string; // DOCKER_HOST for it
  bridge: string; // its bridge interface
  address: string; // the bridge's address here
  stop(): Promise<void>;
}

const sh = (argv: string[], env?: Record<string, string>) => {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: env ?? (process.env as Record<string, string>) });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
};

// Why it cannot run here, or null.
export function secondDockerdProblem(): string | null {
  if (process.platform !== "linux") return "needs Linux";
  if (process.getuid?.() !== 0) return "needs root (unshare -m, a bridge interface)";
  for (const tool of ["unshare", "dockerd", "ip", "docker"]) if (!Bun.which(tool)) return `needs ${tool}`;
  return null;
}

export async function startSecondDockerd(baseImage: string): Promise<SecondDockerd> {
  // Not under /tmp: the engine's API socket must be at the same path for
  // us and for it, and inside its namespace /tmp is another folder.
  mkdirSync("/var/tmp", { recursive: true });
  const base = mkdtempSync("/var/tmp/cb-dind-");
  writeFileSync(join(base, "daemon.json"), "{}\n");
  const host = `unix://${join(base, "docker.sock")}`;

  // A bridge and subnet no one uses.
  const id = Buffer.from(crypto.getRandomValues(new Uint8Array(3))).toString("hex");
  const bridge = `cbd${id}`;
  const routes = sh(["ip", "-4", "route"]).stdout;
  let octet = 0;
  for (let i = 0; i < 50 && !octet; i++) {
    const n = 1 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 250);
    if (!routes.includes(`10.213.${n}.`)) octet = n;
  }
  if (!octet) throw new Error("no free 10.213.x.0/24 subnet for the second dockerd");
  const address = `10.213.${octet}.1`;
  let bridgeMade = false;
  let pid = 0;

  const stop = async () => {
    if (pid) {
      // Its containers first (the CLI's own cleanup should have left none),
      // then the engine, which stops its containerd.
      const env = { ...(process.env as Record<string, string>), DOCKER_HOST: host };
      const left = sh(["docker", "ps", "-aq"], env).stdout.trim();
      if (left) sh(["docker", "rm", "-f", ...left.split("\n")], env);
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // gone
      }
      for (let i = 0; i < 100 && alive(pid); i++) await Bun.sleep(100);
      if (alive(pid)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    if (bridgeMade) sh(["ip", "link", "del", bridge]);
    rmSync(base, { recursive: true, force: true });
  };

  try {
    for (const argv of [
      ["ip", "link", "add", "name", bridge, "type", "bridge"],
      ["ip", "addr", "add", `${address}/24`, "dev", bridge],
      ["ip", "link", "set", bridge, "up"],
    ]) {
      const r = sh(argv);
      if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim()}`);
      bridgeMade = true;
    }
    const log = openSync(join(base, "dockerd.log"), "a");
    const dockerd = [
      "dockerd",
      "--config-file", join(base, "daemon.json"),
      "--data-root", "/tmp/data",
      "--exec-root", "/tmp/exec",
      "--pidfile", "/tmp/dockerd.pid",
      "--host", host,
      "--bridge", bridge,
      "--iptables=false",
      "--ip-masq=false",
      "--ip-forward=false",
      "--userland-proxy=false",
      "--cgroup-parent", `cb-dind-${id}`,
      "--log-level", "warn",
    ];
    // sh execs dockerd after the mount: the pid we get is the engine's. Its
    // TMPDIR is the fresh /tmp: one inherited from us (a folder under our
    // /tmp) does not exist in its namespace, and runc's exec then fails
    // with 126 and no message.
    const { TMPDIR: _ours, ...engineEnv } = process.env;
    const p = Bun.spawn(["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount -t tmpfs -o size=4g,mode=1777 cb-dind /tmp && exec "$@"', "sh", ...dockerd], {
      env: engineEnv,
      stdin: "ignore",
      stdout: log,
      stderr: log,
    });
    closeSync(log);
    pid = p.pid;
    const env = { ...(process.env as Record<string, string>), DOCKER_HOST: host };
    let up = false;
    for (let i = 0; i < 120 && !up; i++) {
      if (p.exitCode !== null) break;
      up = sh(["docker", "info", "--format", "{{.ServerVersion}}"], env).code === 0;
      if (!up) await Bun.sleep(250);
    }
    if (!up) throw new Error(`the second dockerd did not start: ${readFileSync(join(base, "dockerd.log"), "utf8").slice(-800)}`);
    // The base image, from the main engine (no registry here).
    const load = sh(["sh", "-c", 'docker save "$0" | DOCKER_HOST="$1" docker load', baseImage, host]);
    if (load.code !== 0) throw new Error(`loading ${baseImage} into the second dockerd: ${load.stderr.trim()}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, bridge, address, stop };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not reaped yet) is not alive.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
