import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { cgiEnv, serveCgi } from "../../../src/git/cgi.ts";
import { multiSanCert, rawRequest, route, startEnv, type Env } from "./harness.ts";

// No git push around the git gate: `git push` over https to an allowed host
// carries its files in a zlib-compressed packfile that request-body DLP does
// not read. The upstream here is a real git smart-HTTP server (git
// http-backend behind a tiny CGI host, over TLS and plain HTTP), the client
// the real git through the gate as its proxy; the upstream's bare repository
// is read afterwards to see what landed.

const run = async (argv: string[], cwd: string, env: Record<string, string>, stdin?: string) => {
  const p = Bun.spawn(argv, { cwd, env, stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
};

function rand(alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}
// Built at run time: no key-shaped string is stored in the repository.
const awsKey = () => "AKIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);

let env: Env;
let server: { https: ReturnType<typeof Bun.serve>; http: ReturnType<typeof Bun.serve> };
let root: string;
// Requests that reached the git server, as "METHOD path?query".
const hits: string[] = [];
let gitEnv: Record<string, string>;

beforeAll(async () => {
  const cert = await multiSanCert(["git.test", "scan.test"], "git-server-test");
  let gateRoot = "";
  const fetch = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    hits.push(`${req.method} ${url.pathname}${url.search}`);
    const base = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: gateRoot };
    const { response } = await serveCgi(["git", "http-backend"], cgiEnv(req, { projectRoot: root, pathInfo: decodeURIComponent(url.pathname), remoteUser: "pusher" }, base), req, () => {});
    return response;
  };
  server = {
    https: Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert: cert.certPem, key: cert.keyPem }, fetch }),
    http: Bun.serve({ hostname: "127.0.0.1", port: 0, fetch }),
  };
  const ports = [server.https.port!, server.http.port!];
  env = await startEnv(() => [route("git.test", { ports }), route("scan.test", { ports, git_push: "scan" })], { extraCa: [cert.caPem] });
  gateRoot = env.dir;
  root = join(env.dir, "srv");
  gitEnv = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: env.dir,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Agent",
    GIT_AUTHOR_EMAIL: "agent@example.invalid",
    GIT_COMMITTER_NAME: "Agent",
    GIT_COMMITTER_EMAIL: "agent@example.invalid",
    GIT_TERMINAL_PROMPT: "0",
  };
  // The bottle's git: the gate is its proxy and the bottle's CA its trust.
  writeFileSync(join(env.dir, ".gitconfig"), `[init]\n\tdefaultBranch = main\n[http]\n\tproxy = ${env.proxy}\n\tsslCAInfo = ${env.bottleCa}\n`);
  for (const name of ["refused", "scanned", "clean"]) {
    const bare = join(root, `${name}.git`);
    expect((await run(["git", "init", "-q", "--bare", "-b", "main", bare], env.dir, gitEnv)).code).toBe(0);
  }
});
afterAll(async () => {
  server?.https.stop(true);
  server?.http.stop(true);
  await env?.close();
});

const upstreamHead = async (repo: string) => (await run(["git", "rev-parse", "-q", "--verify", "refs/heads/main"], join(root, `${repo}.git`), gitEnv)).stdout.trim();
const hasObject = async (repo: string, oid: string) => (await run(["git", "cat-file", "-e", oid], join(root, `${repo}.git`), gitEnv)).code === 0;

async function workWithKey(name: string, readme: string): Promise<{ dir: string; head: string }> {
  const dir = join(env.dir, `work-${name}-${Math.random().toString(36).slice(2, 8)}`);
  expect((await run(["git", "init", "-q", "-b", "main", dir], env.dir, gitEnv)).code).toBe(0);
  writeFileSync(join(dir, "README.md"), readme);
  await run(["git", "add", "-A"], dir, gitEnv);
  expect((await run(["git", "commit", "-qm", "docs"], dir, gitEnv)).code).toBe(0);
  return { dir, head: (await run(["git", "rev-parse", "HEAD"], dir, gitEnv)).stdout.trim() };
}

describe("gate: git's receive-pack on an egress route", () => {
  test("a git push over https with an AWS key in a README is refused, and says to use the git gate", async () => {
    const key = awsKey();
    const w = await workWithKey("refused", `# docs\naws_access_key_id = ${key}\n`);
    const r = await run(["git", "push", `https://git.test:${server.https.port}/refused.git`, "main"], w.dir, gitEnv);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("git.bottle.internal");
    expect(r.stderr).not.toContain(key);
    expect(await upstreamHead("refused")).toBe("");
    expect(await hasObject("refused", w.head)).toBe(false);
    // The git server never saw the receive-pack service.
    expect(hits.filter((h) => h.includes("receive-pack"))).toEqual([]);
  });

  test("fetching still works: upload-pack is not a push", async () => {
    // Seed the repository directly, then clone through the gate.
    const w = await workWithKey("seed", "# seed\n");
    expect((await run(["git", "push", "-q", join(root, "clean.git"), "main"], w.dir, gitEnv)).code).toBe(0);
    const dir = join(env.dir, "clone");
    const r = await run(["git", "clone", "-q", `https://git.test:${server.https.port}/clean.git`, dir], env.dir, gitEnv);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "README.md"), "utf8")).toBe("# seed\n");
  });

  test("every spelling of the receive-pack service is refused before the server sees it", async () => {
    const port = server.http.port!;
    const before = hits.length;
    const spellings = [
      ["GET", "/refused.git/info/refs?service=git-receive-pack"],
      ["GET", "/refused.git/info/refs?service=git%2Dreceive%2Dpack"],
      ["GET", "/refused.git/info/refs?service=GIT-RECEIVE-PACK"],
      ["GET", "/refused.git/info/refs?SERVICE=git-receive-pack"],
      ["GET", "/refused.git/info/refs?x=1&service=git-receive-pack&y=2"],
      ["GET", "/refused.git/info/refs?x=1;service=git-receive-pack"],
      ["GET", "/refused.git/info/refs?service=git-receive-pack&service=git-upload-pack"],
      ["GET", "/refused.git/INFO/REFS?service=git-receive-pack"],
      ["GET", "/refused.git/info%2Frefs?service=git-receive-pack"],
      ["GET", "/refused.git/info/refs/?service=git-receive-pack"],
      ["GET", "/refused.git/%69nfo/refs?service=git-receive-pack"],
      ["POST", "/refused.git/git-receive-pack"],
      ["POST", "/refused.git/git%2Dreceive%2Dpack"],
      ["POST", "/refused.git/GIT-RECEIVE-PACK"],
      ["POST", "/refused.git/git-receive-pack/"],
      ["POST", "//refused.git//git-receive-pack"],
      ["POST", "/refused.git/git-receive-pack?x=1"],
      ["POST", "/refused.git/anything"],
    ];
    for (const [method, path] of spellings) {
      const body = "0000";
      const ct = path === "/refused.git/anything" ? "Content-Type: application/x-git-receive-pack-request\r\n" : "";
      const req = `${method} http://git.test:${port}${path} HTTP/1.1\r\nHost: git.test:${port}\r\n${ct}${method === "POST" ? `Content-Length: ${body.length}\r\n` : ""}Connection: close\r\n\r\n${method === "POST" ? body : ""}`;
      const res = await rawRequest(env.gate.port!, req);
      expect({ path, status: res.split(" ")[1] }).toEqual({ path, status: "403" });
      expect(res).toContain("git.bottle.internal");
    }
    expect(hits.slice(before)).toEqual([]);
  });

  test("a route that opts in (git_push: scan): the packfile's objects are inflated and scanned", async () => {
    const key = awsKey();
    const w = await workWithKey("scanned", `# docs\naws_access_key_id = ${key}\n`);
    const r = await run(["git", "push", `https://scan.test:${server.https.port}/scanned.git`, "main"], w.dir, gitEnv);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("remote: blocked by the gate's secret scan: dlp: aws-access-key");
    expect(r.stderr).toContain("! [remote rejected] main -> main");
    expect(r.stderr).not.toContain(key);
    expect(await upstreamHead("scanned")).toBe("");
    expect(await hasObject("scanned", w.head)).toBe(false);
  });

  test("a route that opts in: a key split between a base object and a delta's insert is found by applying the delta", async () => {
    // Neither object holds the key: the base has its first half, the delta
    // copies that and inserts the rest. Sent as git would, to the RPC.
    const key = awsKey();
    const base = Buffer.from(`id = ${key.slice(0, 10)}`);
    const delta = Buffer.concat([varint(base.length), varint(base.length + 10), Buffer.from([0x90, base.length]), Buffer.from([10]), Buffer.from(key.slice(10))]);
    const pack = packOf([
      { kind: 3, data: base },
      { kind: 6, data: delta, back: true },
    ]);
    const zero = "0".repeat(40);
    const cmd = `${zero} ${"1".repeat(40)} refs/heads/split\0report-status side-band-64k\n`;
    const body = Buffer.concat([Buffer.from((cmd.length + 4).toString(16).padStart(4, "0") + cmd + "0000", "latin1"), pack]);
    const port = server.http.port!;
    const before = hits.length;
    const head = `POST http://scan.test:${port}/scanned.git/git-receive-pack HTTP/1.1\r\nHost: scan.test:${port}\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const res = await rawRequest(env.gate.port!, Buffer.concat([Buffer.from(head, "latin1"), body]));
    expect(res).toStartWith("HTTP/1.1 200 ");
    expect(res).toContain("ng refs/heads/split blocked by the gate's secret scan: dlp: aws-access-key");
    expect(res).not.toContain(key);
    expect(hits.slice(before)).toEqual([]);
  });

  test("a route that opts in: a clean push lands, and a second one on top (a thin pack with deltas) too", async () => {
    const seeded = await upstreamHead("clean");
    const dir = join(env.dir, "clean-work");
    expect((await run(["git", "clone", "-q", `https://scan.test:${server.https.port}/clean.git`, dir], env.dir, gitEnv)).code).toBe(0);
    writeFileSync(join(dir, "CHANGES.md"), "one\n".repeat(200));
    await run(["git", "add", "-A"], dir, gitEnv);
    await run(["git", "commit", "-qm", "changes"], dir, gitEnv);
    let r = await run(["git", "push", "origin", "main"], dir, gitEnv);
    expect(r.code).toBe(0);
    // A small edit of a large file: git sends it as a delta against the
    // blob the server has (a thin pack).
    writeFileSync(join(dir, "CHANGES.md"), "one\n".repeat(200) + "two\n");
    await run(["git", "commit", "-qam", "more"], dir, gitEnv);
    r = await run(["git", "push", "origin", "main"], dir, gitEnv);
    expect(r.code).toBe(0);
    const head = (await run(["git", "rev-parse", "HEAD"], dir, gitEnv)).stdout.trim();
    expect(await upstreamHead("clean")).toBe(head);
    expect(head).not.toBe(seeded);
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

// A version 2 packfile by gitformat-pack: each entry's type-and-size
// header, an ofs-delta's distance back to the entry before it, the zlib
// stream; the SHA-1 trailer.
function packOf(entries: { kind: number; data: Buffer; back?: boolean }[]): Buffer {
  const parts: Buffer[] = [Buffer.from("PACK"), Buffer.from([0, 0, 0, 2]), Buffer.alloc(4)];
  parts[2]!.writeUInt32BE(entries.length);
  let offset = 12;
  let prev = 0;
  for (const e of entries) {
    const h: number[] = [];
    let size = e.data.length;
    let c = (e.kind << 4) | (size & 15);
    size = Math.floor(size / 16);
    while (size > 0) {
      h.push(c | 0x80);
      c = size & 0x7f;
      size = Math.floor(size / 128);
    }
    h.push(c);
    const header = Buffer.from(h);
    const back = e.back ? Buffer.from([offset - prev]) : Buffer.alloc(0);
    const z = deflateSync(e.data);
    parts.push(header, back, z);
    prev = offset;
    offset += header.length + back.length + z.length;
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash("sha1").update(body).digest()]);
}
