import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCa } from "../../src/gate/tls/ca.ts";
import { createLeafMinter } from "../../src/gate/tls/leaf.ts";

// `openssl s_server`, a real OpenSSL TLS server standing for a shared front
// end: its servername callback switches to a second certificate when a
// ClientHello names the second host, the way nginx or a CDN edge serves
// many names on one address (apps/s_server.c ssl_servername_cb). With -msg
// it prints every handshake message it reads and writes, and with
// -servername every name its callback sees ("Hostname in TLS extension")
// and each switch ("Switching server context"): what the upstream received,
// read from the upstream itself. `-naccept n`: it exits after n
// connections, which is when its output is whole.

export interface Names {
  caPem: string;
  caPath: string;
  dir: string;
  // Certificate and key files for each name.
  files(name: string): { cert: string; key: string };
}

// Leaves for `names` from one test CA (the gate's own CA code).
export async function testNames(names: string[]): Promise<Names> {
  const dir = mkdtempSync(join(tmpdir(), "cb-ossl-"));
  const ca = await createCa("openssl-upstream");
  const minter = await createLeafMinter(ca);
  for (const n of names) {
    const leaf = await minter.get(n);
    writeFileSync(join(dir, `${n}.crt`), leaf.certPem);
    writeFileSync(join(dir, `${n}.key`), leaf.keyPem);
  }
  const caPath = join(dir, "ca.crt");
  writeFileSync(caPath, ca.certPem);
  return { caPem: ca.certPem, caPath, dir, files: (n) => ({ cert: join(dir, `${n}.crt`), key: join(dir, `${n}.key`) }) };
}

export interface SServer {
  port: number;
  // Everything it printed, once it exited.
  done: Promise<string>;
  stop(): void;
}

// Serves `first` by default and switches to `second` for a ClientHello
// naming it; -www answers an HTTP GET with a status page.
export async function sServer(names: Names, first: string, second: string, args: string[], accepts: number): Promise<SServer> {
  const a = names.files(first);
  const b = names.files(second);
  const p = Bun.spawn(
    ["openssl", "s_server", "-accept", "127.0.0.1:0", "-naccept", String(accepts), "-msg", "-www", "-cert", a.cert, "-key", a.key, "-servername", second, "-cert2", b.cert, "-key2", b.key, ...args],
    { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  let out = "";
  const dec = new TextDecoder();
  const reading = (async () => {
    for await (const c of p.stdout) out += dec.decode(c, { stream: true });
  })();
  const done = (async () => {
    await p.exited;
    await reading;
    return out + (await new Response(p.stderr).text());
  })();
  const until = Date.now() + 15_000;
  let m: RegExpExecArray | null = null;
  while (!(m = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(out)) && Date.now() < until && p.exitCode === null) await Bun.sleep(10);
  if (!m) {
    p.kill();
    throw new Error(`openssl s_server did not start: ${await done}`);
  }
  return { port: Number(m[1]), done, stop: () => p.kill() };
}

// What s_server's -msg output says it read.
export const helloNames = (out: string) => [...out.matchAll(/Hostname in TLS extension: "([^"]*)"/g)].map((m) => m[1]!);
export const clientHellosRead = (out: string) => out.split("\n").filter((l) => /^<<< .*, ClientHello$/.test(l)).length;
