#!/usr/bin/env bun
// The gate against its peers, side by side in one run:
//   - plain HTTP: latency the gate adds to a request vs going direct (p50, p99);
//   - TLS-terminated request with DLP on: latency the gate adds vs the latency
//     mitmdump adds doing the same job (goal <= 0.25x), on a fresh tunnel per
//     request (CONNECT + handshake with a minted leaf + request) and on a
//     kept-alive tunnel;
//   - CONNECT tunnel throughput (large download, passthrough) vs direct (goal
//     >= 0.6x) and vs tinyproxy (goal >= 1.0x);
//   - DLP: microseconds per URL and MB/s per body (bench/dlp.ts);
//   - leaf certificate mint time; gate RSS idle and with 200 open tunnels.
//
//   bun run bench:gate [-- --quick]
//
// Everything runs on 127.0.0.1: the upstream (HTTPS + HTTP, its own test CA)
// and the gate run as separate processes, like mitmdump and tinyproxy. The
// last line is machine-readable:
//   gate: tls_overhead_vs_mitmdump=<x> tunnel_throughput_vs_direct=<y> tunnel_throughput_vs_peer=<w> dlp_url_us=<z>
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";

const root = join(import.meta.dir, "..");
const quick = process.argv.includes("--quick");

// ------------------------------------------------------------ upstream mode

if (process.argv[2] === "--serve-upstream") {
  const dir = process.argv[3]!;
  const big = Buffer.alloc(Number(process.argv[4]));
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
  const small = "x".repeat(512);
  const fetch = async (req: Request) => {
    const p = new URL(req.url).pathname;
    if (req.body) await req.arrayBuffer();
    return p === "/big" ? new Response(big) : new Response(small);
  };
  const cert = readFileSync(join(dir, "up.crt"), "utf8");
  const key = readFileSync(join(dir, "up.key"), "utf8");
  const s1 = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert, key }, fetch });
  const s2 = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch });
  process.stdout.write(`${s1.port} ${s2.port}\n`);
  await new Promise(() => {});
}

// ------------------------------------------------------------------ helpers

const children: ChildProcess[] = [];
function track(c: ChildProcess): ChildProcess {
  children.push(c);
  return c;
}
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
}
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));

function firstLine(c: ChildProcess, re: RegExp, timeoutMs = 15000): Promise<RegExpExecArray> {
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
  });
}

async function waitPort(port: number, timeoutMs = 20000): Promise<void> {
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

function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

// Minimal keep-alive HTTP/1.1 client over any duplex: responses with a
// Content-Length (what the bench upstream sends).
class Client {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  constructor(readonly sock: net.Socket | tls.TLSSocket) {
    sock.on("data", (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.waiter?.();
    });
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
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = null;
    }
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((r, j) => {
    const s = net.connect(port, "127.0.0.1");
    s.setNoDelay(true);
    s.once("connect", () => r(s));
    s.once("error", j);
  });
}

async function tunnel(proxyPort: number, target: string): Promise<net.Socket> {
  const s = await connect(proxyPort);
  s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  await new Promise<void>((resolve, reject) => {
    let b = "";
    const on = (d: Buffer) => {
      b += d.toString("latin1");
      if (b.includes("\r\n\r\n")) {
        s.off("data", on);
        if (!b.startsWith("HTTP/1.1 200") && !b.startsWith("HTTP/1.0 200")) reject(new Error(`CONNECT: ${b.split("\r\n")[0]}`));
        else resolve();
      }
    };
    s.on("data", on);
  });
  return s;
}

function tlsOn(sock: net.Socket | null, port: number, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = sock
      ? tls.connect({ socket: sock, servername: "localhost", ca, ALPNProtocols: ["http/1.1"] })
      : tls.connect({ host: "127.0.0.1", port, servername: "localhost", ca, ALPNProtocols: ["http/1.1"] });
    t.once("secureConnect", () => resolve(t));
    t.once("error", reject);
  });
}

async function timeEach(n: number, fn: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < Math.min(10, n); i++) await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function curlSpeed(args: string[]): Promise<number> {
  const p = Bun.spawn(["curl", "-sS", "-o", "/dev/null", "-w", "%{speed_download}", ...args], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`curl ${args.join(" ")}: ${await new Response(p.stderr).text()}`);
  return Number(out) / (1024 * 1024);
}

// ------------------------------------------------------------------- setup

const dir = mkdtempSync(join(tmpdir(), "cb-bench-gate-"));
const N_LAT = quick ? 150 : 600;
const N_TLS_FRESH = quick ? 40 : 150;
const BIG = quick ? 64 * 1024 * 1024 : 256 * 1024 * 1024;
const ROUNDS = quick ? 3 : 5;

try {
  const { createCa } = await import("../src/gate/tls/ca.ts");
  const { createLeafMinter } = await import("../src/gate/tls/leaf.ts");

  // Upstream with its own CA.
  const upCa = await createCa("bench-upstream");
  const upLeaf = await (await createLeafMinter(upCa)).get("localhost");
  writeFileSync(join(dir, "up-ca.crt"), upCa.certPem);
  writeFileSync(join(dir, "up.crt"), upLeaf.certPem + upCa.certPem);
  writeFileSync(join(dir, "up.key"), upLeaf.keyPem);
  const upstream = track(spawn(process.execPath, [import.meta.path, "--serve-upstream", dir, String(BIG)], { stdio: ["ignore", "pipe", "inherit"] }));
  const [, httpsPortS, httpPortS] = await firstLine(upstream, /(\d+) (\d+)\n/);
  const httpsPort = Number(httpsPortS);
  const httpPort = Number(httpPortS);
  const upCaPem = upCa.certPem;

  // Our gate: a real `claude-bottle gate` process.
  const stateDir = join(dir, "state");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const SECRET = "bench-secret-value-Qm4Zt8Lw2Rx6";
  writeFileSync(
    join(stateDir, "policy.json"),
    JSON.stringify({
      version: 1,
      slug: "bench-abcde",
      git: [],
      supervise: false,
      placeholders: { GITHUB_TOKEN: "ghp_" + "P".repeat(36) },
      routes: [
        { host: "localhost", ports: [httpsPort, httpPort], tls: "terminate", dlp: "on", allow_private: true },
        { host: "127.0.0.1", ports: [httpsPort], tls: "passthrough", dlp: "on", allow_private: true },
      ],
    }),
  );
  const gate = track(
    spawn(process.execPath, [join(root, "src/cli.ts"), "gate", "--state", stateDir, "--listen", "127.0.0.1:0"], {
      stdio: ["pipe", "pipe", "inherit"],
    }),
  );
  // The upstream's CA travels with the secrets, as `selftest` hands it over.
  gate.stdin!.end(
    JSON.stringify({
      credentials: { GITHUB_TOKEN: "ghp_" + "R".repeat(36) },
      secrets: [{ name: "S", value: SECRET }],
      upstream: { ca: readFileSync(join(dir, "up-ca.crt"), "utf8") },
    }),
  );
  const gatePort = Number((await firstLine(gate, /127\.0\.0\.1:(\d+)/))[1]);
  const gateCa = readFileSync(join(stateDir, "ca", "ca.crt"), "utf8");
  await Bun.sleep(300);
  const rssIdle = rss(gate.pid!);

  // mitmdump: its own CA in a temp confdir, upstream trust of the test CA.
  const mitmPort = await freePort();
  const mitmConf = join(dir, "mitm");
  mkdirSync(mitmConf);
  const mitm = existsSync("/usr/bin/mitmdump")
    ? track(
        spawn(
          "/usr/bin/mitmdump",
          ["-q", "--listen-host", "127.0.0.1", "--listen-port", String(mitmPort), "--set", `confdir=${mitmConf}`, "--set", `ssl_verify_upstream_trusted_ca=${join(dir, "up-ca.crt")}`],
          { stdio: ["ignore", "ignore", "ignore"] },
        ),
      )
    : null;

  // tinyproxy: a temp config allowing 127.0.0.1 and the upstream port.
  const tinyPort = await freePort();
  writeFileSync(
    join(dir, "tinyproxy.conf"),
    [`Port ${tinyPort}`, "Listen 127.0.0.1", "Timeout 600", "Allow 127.0.0.1", `ConnectPort ${httpsPort}`, "MaxClients 300", "LogLevel Critical", `LogFile "${join(dir, "tinyproxy.log")}"`].join("\n") + "\n",
  );
  const tiny = existsSync("/usr/bin/tinyproxy") ? track(spawn("/usr/bin/tinyproxy", ["-d", "-c", join(dir, "tinyproxy.conf")], { stdio: "ignore" })) : null;
  if (tiny) await waitPort(tinyPort);
  if (mitm) {
    await waitPort(mitmPort);
    for (let i = 0; i < 100 && !existsSync(join(mitmConf, "mitmproxy-ca-cert.pem")); i++) await Bun.sleep(100);
  }
  const mitmCa = mitm ? readFileSync(join(mitmConf, "mitmproxy-ca-cert.pem"), "utf8") : "";

  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    process.stdout.write(s + "\n");
  };
  const us = (x: number) => `${x.toFixed(0)} us`;

  // ------------------------------------------------------- plain HTTP latency
  {
    const direct = new Client(await connect(httpPort));
    const via = new Client(await connect(gatePort));
    const reqD = `GET /small?page=2&q=hello HTTP/1.1\r\nHost: localhost:${httpPort}\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n`;
    const reqV = `GET http://localhost:${httpPort}/small?page=2&q=hello HTTP/1.1\r\nHost: localhost:${httpPort}\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n`;
    const d = await timeEach(N_LAT, async () => void (await direct.request(reqD)));
    const v = await timeEach(N_LAT, async () => void (await via.request(reqV)));
    direct.sock.destroy();
    via.sock.destroy();
    say(`plain http (keep-alive, ${N_LAT} req): direct p50 ${us(pct(d, 50))} p99 ${us(pct(d, 99))}; via gate p50 ${us(pct(v, 50))} p99 ${us(pct(v, 99))}; added p50 ${us(pct(v, 50) - pct(d, 50))} p99 ${us(pct(v, 99) - pct(d, 99))}; ratio p50 ${(pct(v, 50) / pct(d, 50)).toFixed(2)}x p99 ${(pct(v, 99) / pct(d, 99)).toFixed(2)}x`);
  }

  // -------------------------------------------- TLS-terminated + DLP latency
  const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hello ".repeat(150) }] });
  const req = `POST /small?beta=true HTTP/1.1\r\nHost: localhost:${httpsPort}\r\nContent-Type: application/json\r\nAuthorization: Bearer not-a-secret\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const target = `localhost:${httpsPort}`;
  const fresh = async (proxyPort: number | null, ca: string) => {
    const t = proxyPort === null ? await tlsOn(null, httpsPort, ca) : await tlsOn(await tunnel(proxyPort, target), 0, ca);
    const c = new Client(t);
    const st = await c.request(req);
    if (st !== 200) throw new Error(`status ${st}`);
    t.destroy();
  };
  const keptAlive = async (proxyPort: number | null, ca: string, n: number) => {
    const t = proxyPort === null ? await tlsOn(null, httpsPort, ca) : await tlsOn(await tunnel(proxyPort, target), 0, ca);
    const c = new Client(t);
    const xs = await timeEach(n, async () => {
      const st = await c.request(req);
      if (st !== 200) throw new Error(`status ${st}`);
    });
    t.destroy();
    return xs;
  };
  const fD = await timeEach(N_TLS_FRESH, () => fresh(null, upCaPem));
  const fG = await timeEach(N_TLS_FRESH, () => fresh(gatePort, gateCa));
  const fM = mitm ? await timeEach(N_TLS_FRESH, () => fresh(mitmPort, mitmCa)) : [];
  const kD = await keptAlive(null, upCaPem, N_LAT);
  const kG = await keptAlive(gatePort, gateCa, N_LAT);
  const kM = mitm ? await keptAlive(mitmPort, mitmCa, N_LAT) : [];
  const addF = (xs: number[]) => pct(xs, 50) - pct(fD, 50);
  const addK = (xs: number[]) => pct(xs, 50) - pct(kD, 50);
  const tlsRatio = mitm ? Math.max(0, addF(fG)) / Math.max(1, addF(fM)) : NaN;
  const tlsRatioK = mitm ? Math.max(0, addK(kG)) / Math.max(1, addK(kM)) : NaN;
  say(
    `tls terminate + dlp, fresh tunnel per request (${N_TLS_FRESH}): direct p50 ${us(pct(fD, 50))}; gate adds ${us(addF(fG))} (p99 ${us(pct(fG, 99) - pct(fD, 99))}); ` +
      (mitm ? `mitmdump adds ${us(addF(fM))} (p99 ${us(pct(fM, 99) - pct(fD, 99))}); gate/mitmdump ${tlsRatio.toFixed(3)}x (goal <= 0.25x)` : "mitmdump not installed"),
  );
  say(
    `tls terminate + dlp, kept-alive tunnel (${N_LAT}): direct p50 ${us(pct(kD, 50))}; gate adds ${us(addK(kG))}; ` +
      (mitm ? `mitmdump adds ${us(addK(kM))}; gate/mitmdump ${tlsRatioK.toFixed(3)}x` : ""),
  );

  // -------------------------------------------------------- tunnel throughput
  const mb = BIG / (1024 * 1024);
  const best = async (args: string[]) => {
    let b = 0;
    for (let i = 0; i < ROUNDS; i++) b = Math.max(b, await curlSpeed(args));
    return b;
  };
  const url = `https://127.0.0.1:${httpsPort}/big`;
  // -k: the upstream leaf names localhost, the URL an IP (the passthrough
  // route); TLS is still negotiated end to end, just not name-checked.
  const common = ["-k"];
  const tDirect = await best([...common, url]);
  const tGate = await best([...common, "--proxy", `http://127.0.0.1:${gatePort}`, url]);
  const tTiny = tiny ? await best([...common, "--proxy", `http://127.0.0.1:${tinyPort}`, url]) : NaN;
  writeFileSync(join(dir, "gate-ca.crt"), gateCa);
  const tTerm = await best(["--cacert", join(dir, "gate-ca.crt"), "--proxy", `http://127.0.0.1:${gatePort}`, `https://localhost:${httpsPort}/big`]);
  say(
    `tunnel throughput (${mb} MiB, best of ${ROUNDS}): direct ${tDirect.toFixed(0)} MiB/s; gate passthrough ${tGate.toFixed(0)} MiB/s (${(tGate / tDirect).toFixed(2)}x direct, goal >= 0.6x); ` +
      (tiny ? `tinyproxy ${tTiny.toFixed(0)} MiB/s (gate ${(tGate / tTiny).toFixed(2)}x, goal >= 1.0x)` : "tinyproxy not installed") +
      `; gate terminated download ${tTerm.toFixed(0)} MiB/s`,
  );

  // --------------------------------------------------------------------- DLP
  let dlpUrlUs: number;
  let dlpBody: number;
  {
    const { benchDlp } = await import("./dlp.ts");
    const r = await benchDlp({ quick });
    dlpUrlUs = r.urlUs;
    dlpBody = r.bodyMBps;
    say(`dlp: ${dlpUrlUs.toFixed(2)} us per URL; ${dlpBody.toFixed(0)} MB/s per body`);
  }

  // --------------------------------------------------------------- leaf mint
  {
    const m = await createLeafMinter(await createCa("bench"));
    await m.get("warm.example");
    const n = quick ? 30 : 100;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await m.get(`h${i}.example.com`);
    say(`leaf mint: ${((performance.now() - t0) / n).toFixed(2)} ms per new host (cached afterwards)`);
  }

  // --------------------------------------------------------------------- RSS
  {
    const held: tls.TLSSocket[] = [];
    for (let i = 0; i < 200; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, async () => tlsOn(await tunnel(gatePort, target), 0, gateCa)));
      held.push(...batch);
    }
    await Bun.sleep(300);
    const rssLoaded = rss(gate.pid!);
    for (const t of held) t.destroy();
    say(`gate rss: idle ${rssIdle.toFixed(1)} MiB; with 200 open terminated tunnels ${rssLoaded.toFixed(1)} MiB`);
  }

  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "nan");
  say(
    `gate: tls_overhead_vs_mitmdump=${fmt(tlsRatio)} tunnel_throughput_vs_direct=${fmt(tGate / tDirect)} tunnel_throughput_vs_peer=${fmt(tGate / tTiny)} dlp_url_us=${fmt(dlpUrlUs)}`,
  );
} finally {
  cleanup();
  await Bun.sleep(100);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
