import { writeFileSync } from "node:fs";
import { paths } from "../state/paths.ts";
import { openLog } from "./audit.ts";
import { governMemory } from "./memory.ts";
import { readPolicy } from "./policy/file.ts";
import { readSecrets } from "./secrets.ts";
import { startGate, type GateLimits } from "./server.ts";
import { fixedResolver, upstreamTrust } from "./upstream.ts";

// The gate process: read secrets from stdin, serve, reload on SIGHUP, stop
// on SIGTERM/SIGINT. The virtual hosts it serves are those registered
// before it starts (the gate command registers the built-in ones).

// Past this much resident memory the gate process collects its garbage at
// once (memory.ts); its budget for bodies held for DLP is 128 MiB on top of
// a ~60 MiB baseline.
const SOFT_RSS_BYTES = 192 * 1024 * 1024;

// `limits`: only bench/gate.ts passes any (the pool switched off); the gate
// command has no flag or variable that reaches them.
export async function runGate(opts: { stateDir: string; listen?: string; limits?: Partial<GateLimits> }): Promise<void> {
  const policy = readPolicy(opts.stateDir);
  const secrets = await readSecrets(Bun.stdin.stream());
  const up = secrets.upstream;
  const gate = await startGate({
    stateDir: opts.stateDir,
    policy,
    secrets,
    listen: opts.listen,
    limits: opts.limits,
    door: secrets.door ? { ...secrets.door.listen, token: secrets.door.token } : undefined,
    resolver: up?.hosts ? fixedResolver(up.hosts) : undefined,
    upstreamCa: up?.ca ? upstreamTrust(up.ca) : undefined,
  });
  const memory = governMemory({ softBytes: SOFT_RSS_BYTES });

  // SIGHUP is handled before anyone can learn our pid (gate.pid, the
  // listening line): its default action ends the process, and `allow` may
  // signal the moment gate.pid names us.
  const log = openLog(paths.gateLog(opts.stateDir));
  let reloading = Promise.resolve();
  process.on("SIGHUP", () => {
    reloading = reloading.then(async () => {
      try {
        await gate.reload(readPolicy(opts.stateDir));
      } catch (e) {
        // Keep serving the last good policy.
        log.error(`reload failed, keeping the previous policy: ${(e as Error).message}`);
      }
    });
  });
  writeFileSync(paths.gatePid(opts.stateDir), `${process.pid}\n`, { mode: 0o600 });
  if (gate.port !== undefined) process.stdout.write(`gate listening on 127.0.0.1:${gate.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  memory.stop();
  await gate.close();
  log.info("gate stopped");
  log.close();
  process.exit(0);
}
