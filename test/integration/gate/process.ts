// The real gate process (`bun src/cli.ts gate`) for tests that must watch it
// from outside: its memory (/proc/<pid>/status), its reaction to SIGHUP.
// Policy in <state>/policy.json, secrets and upstream overrides on stdin,
// exactly as the launcher starts it.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GatePolicy, GateSecrets } from "../../../src/gate/types.ts";

const CLI = join(import.meta.dir, "../../../src/cli.ts");

export interface GateProcess {
  pid: number;
  port: number;
  stateDir: string;
  proc: ReturnType<typeof Bun.spawn>;
  // Resident set size in KiB (VmRSS), or null once the process is gone.
  rssKiB(): number | null;
  // Rewrites policy.json and sends SIGHUP; resolves once gate.log says the
  // policy was reloaded.
  reload(policy: GatePolicy): Promise<void>;
  stop(): Promise<void>;
}

export async function startGateProcess(stateDir: string, policy: GatePolicy, secrets: GateSecrets): Promise<GateProcess> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(stateDir, "policy.json"), JSON.stringify(policy));
  const proc = Bun.spawn([process.execPath, CLI, "gate", "--state", stateDir, "--listen", "127.0.0.1:0"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" },
  });
  const sink = proc.stdin as import("bun").FileSink;
  sink.write(JSON.stringify(secrets));
  sink.end();
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the gate process exited before listening: ${text}`);
    text += new TextDecoder().decode(value);
    const m = /127\.0\.0\.1:(\d+)/.exec(text);
    if (m) {
      reader.releaseLock();
      const port = Number(m[1]);
      const logPath = join(stateDir, "gate.log");
      const reloads = () => {
        try {
          return readFileSync(logPath, "utf8").split("policy reloaded").length - 1;
        } catch {
          return 0;
        }
      };
      return {
        pid: proc.pid,
        port,
        stateDir,
        proc,
        rssKiB() {
          try {
            const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
            return m ? Number(m[1]) : null;
          } catch {
            return null;
          }
        },
        async reload(p: GatePolicy) {
          const before = reloads();
          writeFileSync(join(stateDir, "policy.json"), JSON.stringify(p));
          proc.kill("SIGHUP");
          const until = Date.now() + 10_000;
          while (reloads() === before) {
            if (Date.now() > until) throw new Error("the gate did not reload its policy");
            await Bun.sleep(20);
          }
        },
        async stop() {
          if (proc.exitCode === null) proc.kill("SIGTERM");
          await proc.exited;
        },
      };
    }
  }
}
