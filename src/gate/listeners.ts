import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import net from "node:net";
import { paths } from "../state/paths.ts";
import { doorHello } from "./door.ts";

// Where the gate accepts connections: the unix socket the bottle's relay
// dials (<state>/sock/gate.sock), the TCP door of the bridge door (served
// only after the bottle's token, door.ts), and an optional plain TCP
// listener for tests and benchmarks (`gate --listen`, given on the argv the
// launcher never writes).

export interface ListenOptions {
  stateDir: string;
  // Listen on <state>/sock/gate.sock (default true).
  socket?: boolean;
  // The TCP door for a bridge container (door.ts): served only after the
  // bottle's token; bound where the engine routes the bridge's traffic.
  door?: { host: string; port: number; token: string };
  // "127.0.0.1:PORT" (PORT may be 0) or {host, port}: an extra TCP listener
  // for tests and benchmarks.
  listen?: string | { host: string; port: number };
}

export interface Listeners {
  socketPath: string;
  port?: number;
  doorPort?: number;
  // Stop accepting and remove the socket file; does not touch open
  // connections (the caller cuts them).
  close(): Promise<void>;
}

export async function openListeners(
  o: ListenOptions,
  onConnection: (raw: net.Socket, hello?: Buffer) => void,
): Promise<Listeners> {
  const servers: net.Server[] = [];
  const listening = (s: net.Server, start: (done: () => void) => void) =>
    new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      start(() => resolve());
    });
  const socketPath = paths.gateSocket(o.stateDir);
  // The door first: readiness is "the unix socket answers", which must
  // imply that the door listens too.
  let doorPort: number | undefined;
  if (o.door) {
    const hello = doorHello(o.door.token);
    const s = net.createServer((raw) => onConnection(raw, hello));
    const d = o.door;
    await listening(s, (done) => s.listen(d.port, d.host, done));
    doorPort = (s.address() as net.AddressInfo).port;
    servers.push(s);
  }
  if (o.socket !== false) {
    mkdirSync(paths.sockDir(o.stateDir), { recursive: true, mode: 0o755 });
    if (existsSync(socketPath)) unlinkSync(socketPath);
    const s = net.createServer(onConnection);
    await listening(s, (done) => s.listen(socketPath, done));
    // The bottle's user (any uid inside the container or VM) must be able
    // to connect; the 0700 state directory keeps other host users out.
    chmodSync(socketPath, 0o666);
    servers.push(s);
  }
  let port: number | undefined;
  if (o.listen !== undefined) {
    const l = typeof o.listen === "string" ? parseListen(o.listen) : o.listen;
    const s = net.createServer(onConnection);
    await listening(s, (done) => s.listen(l.port, l.host, done));
    port = (s.address() as net.AddressInfo).port;
    servers.push(s);
  }
  return {
    socketPath,
    port,
    doorPort,
    async close() {
      const closed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      // Bun's net.Server can miss a close of a socket that was ended by
      // us; never hang shutdown on it.
      await Promise.race([closed, new Promise((r) => setTimeout(r, 500).unref())]);
      if (o.socket !== false && existsSync(socketPath)) {
        try {
          unlinkSync(socketPath);
        } catch {
          /* already gone */
        }
      }
    },
  };
}

export function parseListen(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(":");
  const host = i > 0 ? s.slice(0, i).replace(/^\[|\]$/g, "") : "127.0.0.1";
  const port = Number(i >= 0 ? s.slice(i + 1) : s);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid listen address ${s}`);
  return { host, port };
}
