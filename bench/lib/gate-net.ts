import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";

// Sockets, processes and statistics for bench/gate.ts: a keep-alive HTTP/1.1
// client over any duplex, CONNECT, TLS on a tunnel, interleaved series, curl
// downloads with the CPU time of their path, RSS.

export function firstLine(c: ChildProcess, re: RegExp, timeoutMs = 20000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${re} (got ${buf.slice(0, 200)})`)), timeoutMs);
    c.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    });
    c.once("exit", (code) => reject(new Error(`exited (${code}) before printing ${re}`)));
  });
}

export async function waitPort(port: number, timeoutMs = 30000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        r(true);
      });
      s.once("error", () => r(false));
    });
    if (ok) return;
    await Bun.sleep(100);
  }
  throw new Error(`port ${port} did not open`);
}

export function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

// Minimal keep-alive HTTP/1.1 client: responses with a Content-Length (what
// the bench upstream, the gate's and mitmdump's refusals send).
export class Client {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  constructor(readonly sock: net.Socket | tls.TLSSocket) {
    sock.on("data", (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.waiter?.();
    });
    sock.on("close", () => this.waiter?.());
  }
  async request(raw: string): Promise<number> {
    this.sock.write(raw);
    for (;;) {
      const i = this.buf.indexOf("\r\n\r\n");
      if (i >= 0) {
        const head = this.buf.subarray(0, i).toString("latin1");
        const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (this.buf.length >= i + 4 + len) {
          this.buf = this.buf.subarray(i + 4 + len);
          return Number(head.split(" ")[1]);
        }
      }
      if (this.sock.destroyed) throw new Error("connection closed before a response");
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = null;
    }
  }
}

export function connect(port: number): Promise<net.Socket> {
  return new Promise((r, j) => {
    const s = net.connect(port, "127.0.0.1");
    s.setNoDelay(true);
    s.once("connect", () => r(s));
    s.once("error", j);
  });
}

export async function tunnel(proxyPort: number, target: string): Promise<net.Socket> {
  const s = await connect(proxyPort);
  s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  await new Promise<void>((resolve, reject) => {
    let b = "";
    const on = (d: Buffer) => {
      b += d.toString("latin1");
      if (b.includes("\r\n\r\n")) {
        s.off("data", on);
        if (!/^HTTP\/1\.[01] 200/.test(b)) reject(new Error(`CONNECT: ${b.split("\r\n")[0]}`));
        else resolve();
      }
    };
    s.on("data", on);
  });
  return s;
}

// TLS to the upstream, directly (sock null) or inside a tunnel, verifying
// the chain against `ca` and the name "localhost".
export function tlsOn(sock: net.Socket | null, port: number, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = sock
      ? tls.connect({ socket: sock, servername: "localhost", ca, ALPNProtocols: ["http/1.1"] })
      : tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca, ALPNProtocols: ["http/1.1"] });
    t.setNoDelay?.(true);
    t.once("secureConnect", () => resolve(t));
    t.once("error", reject);
  });
}

export function rssMiB(pid: number): { rss: number; anon: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, anon: kb("RssAnon") / 1024 };
}

// Runs every series once per iteration, in an order that rotates, so that no
// series always follows the same one; `rounds` x `perRound` iterations after
// `warm` unrecorded ones. Returns per round, per series, the samples (us).
export async function interleave(series: (() => Promise<void>)[], rounds: number, perRound: number, warm = 10): Promise<number[][][]> {
  for (let i = 0; i < warm; i++) for (const s of series) await s();
  const out: number[][][] = [];
  let it = 0;
  for (let r = 0; r < rounds; r++) {
    const round = series.map(() => [] as number[]);
    for (let i = 0; i < perRound; i++, it++) {
      for (let k = 0; k < series.length; k++) {
        const j = (k + it) % series.length;
        const t0 = performance.now();
        await series[j]!();
        round[j]!.push((performance.now() - t0) * 1000);
      }
    }
    out.push(round);
  }
  return out;
}

// CPU seconds a process has used so far, all its threads, those that have
// ended included: tinyproxy runs a thread per connection, gone by the time
// the download is over (summing /proc/<pid>/task/*/schedstat, to the
// nanosecond, missed it and made tinyproxy look twice as cheap). In clock
// ticks, so a download should take a few hundred ms of CPU.
const TICK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString()) || 100;
export function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / TICK;
}

// One curl download: its wall-clock speed and the CPU time the whole path
// used for it (curl's own, and that of every process in `path`).
export async function download(args: string[], path: number[]): Promise<{ wall: number; cpu: number }> {
  const c0 = path.map(cpuOf);
  const p = Bun.spawn(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{speed_download}", ...args], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`curl ${args.join(" ")}: ${await new Response(p.stderr).text()}`);
  const ru = p.resourceUsage()!;
  const cpu = (Number(ru.cpuTime.user) + Number(ru.cpuTime.system)) / 1e6 + path.reduce((s, pid, i) => s + cpuOf(pid) - c0[i]!, 0);
  const [size, speed] = out.split(" ").map(Number) as [number, number];
  return { wall: speed / 2 ** 20, cpu: size / 2 ** 20 / cpu };
}
