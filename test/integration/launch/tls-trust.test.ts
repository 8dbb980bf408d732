import { afterAll, beforeAll, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCa } from "../../../src/gate/tls/ca.ts";
import { TRUST_VARS } from "../../../src/manifest/resolve.ts";
import { dockerCliEnv, dockerTest } from "../../helpers/docker.ts";

// The bottle trusts its CA in the system store from the moment `up -d`
// returns, for every kind of client: the real CLI, the real gate and the
// real Docker backend; each tool inside the bottle opens a TLS connection
// that the gate terminates with a leaf of the bottle's CA, through the
// relay, with every CA variable but NODE_EXTRA_CA_CERTS unset so only the
// system store (or, for Node, NODE_EXTRA_CA_CERTS) can vouch for the leaf.
//
// Nothing listens upstream: the gate answers 502 inside the tunnel. A tool
// that got as far as an HTTP answer verified the leaf (none of them sends a
// request over an unverified connection), and the gate's audit shows each
// tool's request path, read from the gate's side. A control run of curl with
// another CA must fail verification and leave no such line.

const CLI = join(import.meta.dir, "..", "..", "..", "src", "cli.ts");
let home = "";
let work = "";
let port = 0;
let slug = "";

async function cli(args: string[], input?: string) {
  const p = Bun.spawn([process.execPath, CLI, ...args], {
    cwd: work,
    env: dockerCliEnv(home),
    stdin: input !== undefined ? new Blob([input]) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

// Inside the bottle, without the proxy exceptions for localhost and without
// the CA variables that point at the bundle (launch/trust-env.ts): only the
// system store itself vouches.
const unsetTrust = TRUST_VARS.filter((v) => v !== "NODE_EXTRA_CA_CERTS").flatMap((v) => ["-u", v]);
const bare = (script: string) => ["exec", slug, "--", "env", "-u", "NO_PROXY", "-u", "no_proxy", ...unsetTrust, "sh", "-c", script];

function auditPaths(): string[] {
  const file = join(home, "state", slug, "audit.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { path?: string; host?: string })
    .filter((a) => a.host === "localhost" && a.path)
    .map((a) => a.path!);
}

async function audited(path: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (auditPaths().includes(path)) return true;
    await Bun.sleep(50);
  }
  return false;
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "cb-tls-"));
  work = mkdtempSync(join(tmpdir(), "cb-tls-work-"));
  // A port with nothing behind it.
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  port = probe.port;
  probe.stop(true);
  mkdirSync(join(home, "bottles"), { recursive: true });
  mkdirSync(join(home, "agents"), { recursive: true });
  writeFileSync(join(home, "bottles", "tls.md"), ["---", "egress:", "  - host: localhost", `    ports: [${port}]`, "    allow_private: true", "---", ""].join("\n"));
  writeFileSync(join(home, "agents", "tls.md"), "---\nbottle: tls\nworkspace: none\n---\n\nTLS trust test agent.\n");
});

afterAll(async () => {
  if (slug) await cli(["down", slug]);
  for (const d of [home, work]) if (d) rmSync(d, { recursive: true, force: true });
});

dockerTest(
  "curl, git, openssl and node in the bottle trust the gate's leaf through the system store; another CA does not",
  async () => {
    const up = await cli(["up", "tls", "-d", "--yes"]);
    expect(up.code).toBe(0);
    slug = up.stdout.trim().split("\n").at(-1)!;
    const url = `https://localhost:${port}`;

    // The store the bottle sees is not regenerated: no step of the launch ran
    // update-ca-certificates (it took seconds), and nothing needed a root step.
    expect(up.stderr).not.toContain("trusting the bottle's CA");

    const curl = await cli(bare(`curl -sS -o /dev/null -w '%{http_code}' ${url}/from-curl`));
    expect(curl.stderr).toBe("");
    expect({ code: curl.code, status: curl.stdout }).toEqual({ code: 0, status: "502" });
    expect(await audited("/from-curl")).toBe(true);

    // Debian's git speaks TLS through libcurl-gnutls: another TLS library,
    // the same system bundle.
    const git = await cli(bare(`git ls-remote ${url}/from-git.git`));
    expect(git.code).not.toBe(0);
    expect(git.stderr).toContain("502");
    expect(git.stderr).not.toMatch(/certificate|SSL|TLS/i);
    expect(await audited("/from-git.git/info/refs")).toBe(true); // the audit drops the query

    const openssl = await cli(bare(`openssl s_client -proxy 127.0.0.1:3128 -connect localhost:${port} -servername localhost -verify_return_error -brief </dev/null 2>&1`));
    expect(openssl.code).toBe(0);
    expect(openssl.stdout).toContain("Verification: OK");

    // Node has its own roots; the bottle's CA reaches it through
    // NODE_EXTRA_CA_CERTS (the file mounted next to the bundle).
    const node = await cli([
      "exec",
      slug,
      "--",
      "node",
      "-e",
      `const http = require("http"), tls = require("tls");
       http.request({ host: "127.0.0.1", port: 3128, method: "CONNECT", path: "localhost:${port}" }).on("connect", (res, sock) => {
         const t = tls.connect({ socket: sock, servername: "localhost" }, () => {
           t.write("GET /from-node HTTP/1.1\\r\\nHost: localhost:${port}\\r\\nConnection: close\\r\\n\\r\\n");
         });
         let buf = "";
         t.on("data", (d) => (buf += d));
         t.on("end", () => { console.log(t.authorized, buf.split("\\r\\n")[0]); });
         t.on("error", (e) => { console.log("error", e.code || e.message); process.exitCode = 1; });
       }).end();`,
    ]);
    expect(node.stdout.trim()).toMatch(/^true HTTP\/1\.1 502/);
    expect(await audited("/from-node")).toBe(true);

    // python3 (certifi-less ssl: the system store) when the image has one.
    const hasPython = (await cli(["exec", slug, "--", "sh", "-c", "command -v python3"])).code === 0;
    if (hasPython) {
      const py = await cli(
        bare(
          `python3 -c 'import http.client, ssl; c = http.client.HTTPSConnection("127.0.0.1", 3128, context=ssl.create_default_context()); c.set_tunnel("localhost", ${port}); c.request("GET", "/from-python"); print(c.getresponse().status)'`,
        ),
      );
      expect(py.stdout.trim()).toBe("502");
      expect(await audited("/from-python")).toBe(true);
    } else {
      console.log("tls-trust: the test image has no python3; python's ssl is not exercised here");
    }

    // The control: the same curl, trusting only another CA, refuses the leaf
    // (exit 60) and so never sends its request.
    const other = await createCa("not-this-bottle");
    const neg = await cli(["exec", slug, "--", "sh", "-c", "cat > /tmp/other-ca.pem"], other.certPem);
    expect(neg.code).toBe(0);
    const refused = await cli(bare(`curl -sS -o /dev/null --cacert /tmp/other-ca.pem ${url}/control`));
    expect(refused.code).toBe(60);
    expect(refused.stderr).toMatch(/certificate/i);
    expect(auditPaths()).not.toContain("/control");
  },
  180_000,
);
