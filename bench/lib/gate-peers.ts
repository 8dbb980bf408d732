import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitPort } from "./gate-net.ts";

// The gate's peers in bench/gate.ts, each started from a temp directory:
//   mitmdump (Debian package mitmproxy): TLS-terminating proxy, given the
//     gate's scanning workload by bench/mitmdump-dlp.py and verifying the
//     upstream's certificate against the bench upstream's CA;
//   tinyproxy (Debian package tinyproxy): CONNECT tunnels, bytes relayed.
// A peer that is not installed is reported by name, never measured as NaN.

export interface Peer {
  port: number;
  proc: ChildProcess;
}

export type Missing = { missing: string };

const PACKAGES: Record<string, string> = { mitmdump: "mitmproxy", tinyproxy: "tinyproxy" };

export function missingLine(m: Missing): string {
  return `${m.missing} is not installed (Debian: apt-get install ${PACKAGES[m.missing]}): its comparison is not measured`;
}

export interface Mitmdump extends Peer {
  ca: string;
  audit: string;
}

export async function startMitmdump(
  dir: string,
  opts: { upstreamCaFile: string; patternsFile: string },
  track: (c: ChildProcess) => ChildProcess,
): Promise<Mitmdump | Missing> {
  const exe = Bun.which("mitmdump");
  if (!exe) return { missing: "mitmdump" };
  const port = await freePort();
  const conf = join(dir, "mitm");
  mkdirSync(conf);
  const audit = join(dir, "mitm-audit.jsonl");
  const proc = track(
    spawn(
      exe,
      [
        "-q",
        "--listen-host", "127.0.0.1",
        "--listen-port", String(port),
        "--set", `confdir=${conf}`,
        // Verifies the upstream (the default) against the bench CA.
        "--set", `ssl_verify_upstream_trusted_ca=${opts.upstreamCaFile}`,
        "-s", join(import.meta.dir, "..", "mitmdump-dlp.py"),
        "--set", `dlp_patterns=${opts.patternsFile}`,
        "--set", `dlp_audit=${audit}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    ),
  );
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  try {
    await waitPort(port);
  } catch {
    throw new Error(`mitmdump did not start: ${err.trim().split("\n").slice(-3).join(" | ")}`);
  }
  const caFile = join(conf, "mitmproxy-ca-cert.pem");
  for (let i = 0; i < 100 && !existsSync(caFile); i++) await Bun.sleep(100);
  return { port, proc, ca: readFileSync(caFile, "utf8"), audit };
}

export async function startTinyproxy(dir: string, connectPort: number, track: (c: ChildProcess) => ChildProcess): Promise<Peer | Missing> {
  const exe = Bun.which("tinyproxy");
  if (!exe) return { missing: "tinyproxy" };
  const port = await freePort();
  const conf = join(dir, "tinyproxy.conf");
  writeFileSync(
    conf,
    [
      `Port ${port}`,
      "Listen 127.0.0.1",
      "Timeout 600",
      "Allow 127.0.0.1",
      `ConnectPort ${connectPort}`,
      "MaxClients 300",
      "LogLevel Critical",
      `LogFile "${join(dir, "tinyproxy.log")}"`,
      `PidFile "${join(dir, "tinyproxy.pid")}"`,
    ].join("\n") + "\n",
  );
  const proc = track(spawn(exe, ["-d", "-c", conf], { stdio: "ignore" }));
  await waitPort(port);
  return { port, proc };
}
