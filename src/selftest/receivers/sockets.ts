import dgram from "node:dgram";
import { rmSync } from "node:fs";
import net from "node:net";
import { latin1, type ArrivalLog } from "./record.ts";

// Plain services on the host, standing in for a database, an IDE plugin, a
// metadata endpoint: a sandbox must never reach them. Each records every
// connection (even one that sends nothing) and every byte or datagram.

export interface Listener {
  label: string;
  host: string; // address or unix socket path
  port: number; // 0 for a unix socket
  stop(): void;
}

// The banner tells the attacker it got through (and gives the real tools
// something to print in a captured success). A client that speaks first
// with an HTTP request gets it as an HTTP answer instead, so curl reports a
// plain 200; anyone else gets it after a short pause.
const BANNER = "CONNECTED host service\n";
const HTTP_ANSWER = `HTTP/1.1 200 OK\r\ncontent-length: ${BANNER.length}\r\nconnection: close\r\n\r\n${BANNER}`;

function onConnection(log: ArrivalLog, kind: "tcp" | "unix", receiver: string) {
  return (s: net.Socket) => {
    const from = s.remoteAddress ?? "";
    log.add({ kind, receiver, from, text: "(connection)", bytes: 0 });
    s.on("error", () => {});
    let answered = false;
    const banner = setTimeout(() => {
      answered = true;
      s.write(BANNER);
    }, 150);
    s.on("data", (d) => {
      log.add({ kind, receiver, from, text: latin1(d) });
      if (!answered && /^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(latin1(d))) {
        answered = true;
        clearTimeout(banner);
        s.end(HTTP_ANSWER);
      }
    });
    s.on("close", () => clearTimeout(banner));
    s.on("end", () => s.end());
  };
}

async function listen(server: net.Server, where: { port: number; host: string } | { path: string }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(where, () => resolve());
  });
}

export async function startTcpListener(label: string, host: string, log: ArrivalLog): Promise<Listener> {
  const server = net.createServer(onConnection(log, "tcp", `tcp ${label}`));
  await listen(server, { port: 0, host });
  return { label, host, port: (server.address() as net.AddressInfo).port, stop: () => server.close() };
}

export async function startUdpListener(label: string, host: string, log: ArrivalLog): Promise<Listener> {
  const type = net.isIPv6(host) ? "udp6" : "udp4";
  const sock = dgram.createSocket({ type, ipv6Only: type === "udp6" });
  sock.on("message", (msg, rinfo) => log.add({ kind: "udp", receiver: `udp ${label}`, from: rinfo.address, text: latin1(msg) }));
  sock.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(0, host, () => resolve());
  });
  return { label, host, port: sock.address().port, stop: () => sock.close() };
}

export async function startUnixListener(label: string, path: string, log: ArrivalLog): Promise<Listener> {
  rmSync(path, { force: true });
  const server = net.createServer(onConnection(log, "unix", `unix ${label}`));
  await listen(server, { path });
  return {
    label,
    host: path,
    port: 0,
    stop: () => {
      server.close();
      rmSync(path, { force: true });
    },
  };
}
