import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { connect } from "node:net";
import { join } from "node:path";
import { ok, sh } from "./harness.ts";

// A throwaway OpenSSH server on 127.0.0.1 for the git gate tests: host key
// and client key generated here, key-only login as the current user.

export interface Sshd {
  port: number;
  hostKeyPub: string; // "ssh-ed25519 AAAA..."
  clientKey: string; // private key file for identity_file
  user: string;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    if (up) return;
    await Bun.sleep(50);
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port}`);
}

export async function keygen(file: string): Promise<string> {
  await ok(sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } }), "ssh-keygen");
  return readFileSync(file + ".pub", "utf8").trim();
}

export async function startSshd(dir: string): Promise<Sshd> {
  mkdirSync(dir, { recursive: true });
  // Privilege separation directory the Debian sshd insists on.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKeyPub = await keygen(join(dir, "host_ed25519"));
  const clientPub = await keygen(join(dir, "client_ed25519"));
  writeFileSync(join(dir, "authorized_keys"), clientPub + "\n");
  chmodSync(join(dir, "authorized_keys"), 0o600);
  const port = await freePort();
  const user = process.env.USER ?? (await sh(["id", "-un"], { env: { PATH: "/usr/bin:/bin" } })).stdout.trim();
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_ed25519")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "StrictModes no",
      "UsePAM no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      `AllowUsers ${user}`,
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  const proc = Bun.spawn(["/usr/sbin/sshd", "-D", "-e", "-f", config], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  try {
    await waitForPort(port, 5000);
  } catch (e) {
    proc.kill();
    const err = await new Response(proc.stderr).text();
    throw new Error(`${(e as Error).message}: ${err}`);
  }
  return {
    port,
    hostKeyPub,
    clientKey: join(dir, "client_ed25519"),
    user,
    stop: async () => {
      proc.kill();
      await proc.exited;
    },
  };
}
