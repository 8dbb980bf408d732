import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import tls from "node:tls";
import { ESTABLISHED } from "../../../src/gate/http/respond.ts";
import type { EgressRoute } from "../../../src/manifest/schema.ts";
import { clientHellosRead, helloNames, sServer, testNames, type Names, type SServer } from "../../helpers/openssl-server.ts";
import { build, captureHello, CCS, host, KEY_SHARE, p256KeyShare, parseHello, serverHellos, SNI, sniData, withExt, type Hello } from "../../helpers/tls-hello.ts";
import { auditLines, connectTunnel, policyOf, route, startEnv, type Env } from "./harness.ts";

// The attacker's side of a passthrough route against a real TLS server
// (OpenSSL's s_server, serving allowed.test and switching to evil.test's
// certificate for a ClientHello naming it: a shared front end). The gate
// checks the first ClientHello's SNI; these are the ways a client gets the
// server to use another name after that one passed:
//   - a second ClientHello after a HelloRetryRequest (TLS 1.3: the server
//     asks for it when the first carried no key share for the group it
//     wants, here P-256 only), naming evil.test;
//   - a ClientHello with no SNI at all (the server picks its own name);
//   - a TLS 1.2 session resumed by id, made for evil.test elsewhere (the
//     resumed session keeps its name).
// Each is read on the server's side (what its servername callback saw) and
// the client's (what came back through the tunnel); the controls are real
// clients (curl, Bun's node:tls, openssl s_client) through the same route,
// HelloRetryRequest included.

let env: Env;
let names: Names;
let rec: Buffer; // a real ClientHello for allowed.test (Bun's node:tls: X25519 shares, no P-256)
let h: Hello;

beforeAll(async () => {
  names = await testNames(["allowed.test", "evil.test"]);
  env = await startEnv(() => []);
  rec = await captureHello({ servername: "allowed.test", ALPNProtocols: ["http/1.1"] });
  h = parseHello(rec);
});
afterAll(async () => {
  await env.close();
  rmSync(names.dir, { recursive: true, force: true });
});

// An s_server for `f`, and the gate's passthrough routes to its port.
async function withServer(args: string[], accepts: number, f: (s: SServer) => Promise<void>): Promise<void> {
  const s = await sServer(names, "allowed.test", "evil.test", args, accepts);
  try {
    const pass = (host: string): EgressRoute => route(host, { ports: [s.port], tls: "passthrough" });
    await env.gate.reload(policyOf([pass("allowed.test"), pass("127.0.0.1")]));
    await f(s);
  } finally {
    s.stop();
  }
}

const auditSince = (n: number) => auditLines(env).slice(n);

// A raw client in the tunnel: everything the gate relays back is kept.
async function tunnel(target: string) {
  const { sock, response } = await connectTunnel(env.gate.port!, target);
  expect(response).toStartWith("HTTP/1.1 200");
  let got = Buffer.alloc(0);
  let closed = false;
  sock.on("data", (d: Buffer) => (got = Buffer.concat([got, d])));
  sock.on("close", () => (closed = true));
  sock.on("error", () => {});
  const until = async (what: () => boolean, ms = 5000) => {
    const end = Date.now() + ms;
    while (!what() && !closed && Date.now() < end) await Bun.sleep(5);
    return what();
  };
  return { sock, got: () => got, closed: () => closed, until };
}

// `openssl s_client` with these arguments; the HTTP request it sends once
// connected. Out: what it printed.
async function sClient(args: string[]): Promise<string> {
  const p = Bun.spawn(["openssl", "s_client", "-ign_eof", ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  p.stdin.write("GET / HTTP/1.0\r\n\r\n");
  p.stdin.end();
  const timer = setTimeout(() => p.kill(), 15_000);
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  clearTimeout(timer);
  return out + err;
}

// What s_client's output says about its handshake and the answer: the
// certificate's subject, "New, <version>" or "Reused, <version>" (or "New,
// (NONE)" when there was none), the status line of the page (not the
// page, which quotes the server's own view).
function summary(out: string): string[] {
  const page = out.indexOf("\nHTTP/1.0 ");
  const lines = (page < 0 ? out : out.slice(0, out.indexOf("\n", page + 1))).split("\n");
  return lines.filter((l) => /^(New|Reused), |^subject=|^HTTP\/1\.0 /.test(l)).map((l) => l.replace(/, Cipher is .*/, "").trimEnd());
}

// What s_client counts as read during its handshake: the proxy's answer
// to CONNECT included.
const readBytes = (out: string) => Number(/SSL handshake has read (\d+) bytes/.exec(out)?.[1]);

// TLS 1.3 with P-256 only: a hello with X25519 shares (curl's, Bun's) gets a
// HelloRetryRequest.
const HRR_ONLY = ["-tls1_3", "-groups", "P-256"];

describe("passthrough: a second ClientHello after a HelloRetryRequest", () => {
  // CH2: the same hello with a P-256 share (what the retry asked for) and
  // another name.
  const second = (name: string) => build(withExt(withExt(h, KEY_SHARE, p256KeyShare()), SNI, sniData([host(name)])));
  // A tunnel whose first hello the server answered with a retry request
  // (the ran-marker of every case here).
  const retried = async (srv: SServer) => {
    const t = await tunnel(`allowed.test:${srv.port}`);
    t.sock.write(rec);
    expect(await t.until(() => serverHellos(t.got()).includes("retry"))).toBe(true);
    return t;
  };

  test("naming another host: refused before it reaches the server, which never sees the name", async () => {
    await withServer(HRR_ONLY, 1, async (srv) => {
      const before = auditLines(env).length;
      const t = await retried(srv);
      const answered = t.got().length;
      t.sock.write(Buffer.concat([CCS, second("evil.test")]));
      await t.until(() => t.got().length > answered, 3000);
      t.sock.destroy();
      const out = await srv.done;
      // The server's side: one ClientHello, one name, no switch.
      expect(helloNames(out)).toEqual(["allowed.test"]);
      expect(out).not.toContain("Switching server context");
      expect(clientHellosRead(out)).toBe(1);
      // The client's: nothing after the retry request.
      expect(serverHellos(t.got())).toEqual(["retry"]);
      expect(auditSince(before)).toMatchObject([
        { method: "CONNECT", host: "allowed.test", decision: "allow" },
        { method: "CONNECT", host: "allowed.test", decision: "deny", layer: "tls", reason: "ClientHello after a HelloRetryRequest: TLS SNI evil.test does not match CONNECT target allowed.test" },
      ]);
    });
  });

  test("sent at once behind the first, before any retry request: refused, the server never reads it", async () => {
    await withServer(HRR_ONLY, 1, async (srv) => {
      const before = auditLines(env).length;
      const t = await tunnel(`allowed.test:${srv.port}`);
      t.sock.write(Buffer.concat([rec, CCS, second("evil.test")]));
      await t.until(() => false, 1000);
      t.sock.destroy();
      const out = await srv.done;
      // The first hello goes on when it arrived alone; here the refusal
      // may come first.
      expect(helloNames(out)).not.toContain("evil.test");
      expect(out).not.toContain("Switching server context");
      expect(clientHellosRead(out)).toBeLessThanOrEqual(1);
      expect(auditSince(before).at(-1)).toMatchObject({ decision: "deny", layer: "tls", reason: "a handshake record the upstream did not ask for: no HelloRetryRequest came before it" });
      expect(t.closed()).toBe(true);
    });
  });

  test("control: the same with the CONNECT host's name goes through, and the server answers it", async () => {
    await withServer(HRR_ONLY, 1, async (srv) => {
      const before = auditLines(env).length;
      const t = await retried(srv);
      t.sock.write(Buffer.concat([CCS, second("allowed.test")]));
      expect(await t.until(() => serverHellos(t.got()).includes("hello"))).toBe(true);
      t.sock.destroy();
      const out = await srv.done;
      expect(helloNames(out)).toEqual(["allowed.test", "allowed.test"]);
      expect(auditSince(before).filter((l) => l.decision === "deny")).toEqual([]);
    });
  });

  test("control: real clients whose first key share the server refuses (curl, Bun's node:tls) complete the handshake and get the page", async () => {
    await withServer(HRR_ONLY, 2, async (srv) => {
      const before = auditLines(env).length;
      const c = Bun.spawn(["curl", "-sS", "--max-time", "20", "--proxy", env.proxy, "--cacert", names.caPath, `https://allowed.test:${srv.port}/`], { stdout: "pipe", stderr: "pipe" });
      const [body, err] = await Promise.all([new Response(c.stdout).text(), new Response(c.stderr).text()]);
      expect({ code: await c.exited, err }).toEqual({ code: 0, err: "" });
      expect(body).toContain("<HTML>");

      const t = await tunnel(`allowed.test:${srv.port}`);
      const s = tls.connect({ socket: t.sock, servername: "allowed.test", ca: names.caPem });
      await new Promise<void>((r, j) => s.once("secureConnect", () => r()).once("error", j));
      expect(s.getProtocol()).toBe("TLSv1.3");
      s.write("GET / HTTP/1.0\r\n\r\n");
      let page = "";
      s.on("data", (d: Buffer) => (page += d.toString("latin1")));
      await new Promise<void>((r) => s.once("close", () => r()));
      expect(page).toStartWith("HTTP/1.0 200 ok");

      const out = await srv.done;
      // Each client's first hello was refused for its key share: two
      // ClientHellos per connection, all for allowed.test.
      expect(clientHellosRead(out)).toBe(4);
      expect(helloNames(out)).toEqual(Array(4).fill("allowed.test"));
      expect(auditSince(before).filter((l) => l.decision === "deny")).toEqual([]);
    });
  });

  test("past the real ServerHello a plaintext ClientHello is the server's to refuse, and it does", async () => {
    // The boundary the gate stops watching at: a first hello the server
    // answers at once (it carries a P-256 share), then a ClientHello naming
    // evil.test in the clear. TLS 1.3 protects every later record.
    await withServer(HRR_ONLY, 1, async (srv) => {
      const t = await tunnel(`allowed.test:${srv.port}`);
      t.sock.write(build(withExt(h, KEY_SHARE, p256KeyShare())));
      expect(await t.until(() => serverHellos(t.got()).includes("hello"))).toBe(true);
      t.sock.write(build(withExt(h, SNI, sniData([host("evil.test")]))));
      await t.until(() => t.closed(), 5000);
      t.sock.destroy();
      const out = await srv.done;
      expect(helloNames(out)).toEqual(["allowed.test"]);
      expect(out).not.toContain("Switching server context");
    });
  });
});

describe("passthrough: a ClientHello without SNI", () => {
  test("refused on a named host (openssl s_client -noservername), with an audit line; real clients send the name", async () => {
    await withServer([], 2, async (srv) => {
      const before = auditLines(env).length;
      const bare = await sClient(["-proxy", `127.0.0.1:${env.gate.port}`, "-connect", `allowed.test:${srv.port}`, "-noservername", "-CAfile", names.caPath]);
      expect(summary(bare)).toEqual(["New, (NONE)"]);
      expect(readBytes(bare)).toBe(ESTABLISHED.length);
      expect(auditSince(before).at(-1)).toMatchObject({
        decision: "deny",
        layer: "tls",
        reason: "TLS ClientHello without SNI: the upstream would choose a name the gate cannot check (CONNECT target allowed.test)",
      });
      // Control: s_client's default (the name from -connect) goes through.
      const named = await sClient(["-proxy", `127.0.0.1:${env.gate.port}`, "-connect", `allowed.test:${srv.port}`, "-CAfile", names.caPath]);
      expect(summary(named)).toEqual(["subject=CN = allowed.test", "New, TLSv1.3", "HTTP/1.0 200 ok"]);
      expect(named).toContain("Verify return code: 0 (ok)");
      const out = await srv.done;
      // The server read one ClientHello, the named one.
      expect(clientHellosRead(out)).toBe(1);
      expect(helloNames(out)).toEqual(["allowed.test"]);
    });
  });

  test("a tunnel to an address: no name is what a client sends (curl to https://127.0.0.1), and it goes through", async () => {
    await withServer([], 1, async (srv) => {
      const c = Bun.spawn(["curl", "-sS", "-k", "--max-time", "20", "--proxy", env.proxy, `https://127.0.0.1:${srv.port}/`], { stdout: "pipe", stderr: "pipe" });
      const body = await new Response(c.stdout).text();
      expect(await c.exited).toBe(0);
      expect(body).toContain("<HTML>");
      const out = await srv.done;
      expect(clientHellosRead(out)).toBe(1);
      expect(helloNames(out)).toEqual([]);
    });
  });
});

describe("passthrough: TLS 1.2 resumption by session id", () => {
  test("a session made for evil.test, resumed under the name allowed.test: cut at the server's answer", async () => {
    const sess = join(names.dir, "evil.sess");
    await withServer(["-tls1_2", "-no_ticket"], 3, async (srv) => {
      // Outside the bottle, straight to the front end: a session for evil.test.
      const made = await sClient(["-connect", `127.0.0.1:${srv.port}`, "-servername", "evil.test", "-tls1_2", "-no_ticket", "-sess_out", sess, "-CAfile", names.caPath]);
      expect(summary(made)).toEqual(["subject=CN = evil.test", "New, TLSv1.2", "HTTP/1.0 200 ok"]);
      // Inside: the bottle offers it with the allowed name.
      const before = auditLines(env).length;
      const resumed = await sClient(["-proxy", `127.0.0.1:${env.gate.port}`, "-connect", `allowed.test:${srv.port}`, "-servername", "allowed.test", "-tls1_2", "-sess_in", sess, "-CAfile", names.caPath]);
      // (s_client prints the loaded session's subject and version whatever
      // happens.) It read the gate's answer to CONNECT and not one byte of
      // the server's.
      expect(summary(resumed).filter((l) => /^(Reused|HTTP)/.test(l))).toEqual([]);
      expect(readBytes(resumed)).toBe(ESTABLISHED.length);
      // The gate read the server's answer: it resumed (echoed the id).
      expect(auditSince(before)).toMatchObject([
        { decision: "allow", host: "allowed.test" },
        { decision: "deny", layer: "tls", reason: "the upstream resumes a TLS 1.2 session by its id, whose server name the gate cannot see" },
      ]);
      // Control: a full TLS 1.2 handshake for allowed.test goes through.
      const fresh = await sClient(["-proxy", `127.0.0.1:${env.gate.port}`, "-connect", `allowed.test:${srv.port}`, "-servername", "allowed.test", "-tls1_2", "-CAfile", names.caPath]);
      expect(summary(fresh)).toEqual(["subject=CN = allowed.test", "New, TLSv1.2", "HTTP/1.0 200 ok"]);
      // The server's side: the resumed hello named allowed.test, and the
      // name it resumed under was evil.test's (its servername callback
      // switched to evil.test's certificate for that connection).
      const out = await srv.done;
      expect(helloNames(out)).toEqual(["evil.test", "evil.test", "allowed.test"]);
    });
  });
});
