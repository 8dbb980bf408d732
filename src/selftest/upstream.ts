import { createCa, type CaMaterial } from "../gate/tls/ca.ts";
import { createLeafMinter } from "../gate/tls/leaf.ts";

// The host side of the escape suite: a recording upstream that stands in
// for "the internet" (HTTPS with its own CA, and plain HTTP), and plain TCP
// listeners that stand in for the host's own services. Everything they
// receive is recorded, so a judge can say "the upstream got nothing".

export interface Recorder {
  text(): string; // everything received so far
  since(mark: number): string;
  mark(): number;
}

function recorder(): Recorder & { add(s: string): void } {
  let buf = "";
  return {
    add: (s) => {
      // Bounded: the judges only need to know whether anything arrived and
      // whether a credential was in it.
      if (buf.length < 4 * 1024 * 1024) buf += s;
    },
    text: () => buf,
    mark: () => buf.length,
    since: (m) => buf.slice(m),
  };
}

export interface TestUpstream {
  ca: CaMaterial;
  httpsPort: number;
  httpPort: number;
  seen: Recorder;
  stop(): void;
}

// /echo and /echo-header play a careless upstream that reflects the
// request (httpbin's /headers, a debug page): the credential the gate
// injected comes back in the body, or in a response header. The gate must
// not let it reach the bottle.
async function recordRequest(req: Request, rec: ReturnType<typeof recorder>): Promise<Response> {
  const url = new URL(req.url);
  const headers = [...req.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
  const body = await req.text();
  rec.add(`${req.method} ${url.pathname}${url.search}\n${headers}\n\n${body}\n`);
  if (url.pathname === "/echo") return new Response(`${headers}\n`, { status: 200 });
  if (url.pathname === "/echo-header") {
    return new Response("upstream-ok\n", { status: 200, headers: { "x-echo-authorization": req.headers.get("authorization") ?? "" } });
  }
  return new Response("upstream-ok\n", { status: 200 });
}

// `names` are the host names the upstream answers for (one leaf each).
export async function startTestUpstream(names: string[]): Promise<TestUpstream> {
  const ca = await createCa("selftest-upstream");
  const minter = await createLeafMinter(ca);
  const leaves = await Promise.all(names.map((n) => minter.get(n)));
  const seen = recorder();
  const https = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: names.map((n, i) => ({ serverName: n, cert: leaves[i]!.certPem, key: leaves[i]!.keyPem })),
    fetch: (req) => recordRequest(req, seen),
  });
  const http = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => recordRequest(req, seen) });
  return {
    ca,
    httpsPort: https.port!,
    httpPort: http.port!,
    seen,
    stop: () => {
      https.stop(true);
      http.stop(true);
    },
  };
}

export interface HostListener {
  label: string;
  host: string;
  port: number;
  stop(): void;
}

// A plain TCP service on the host (like a database or an IDE plugin) that a
// bottle must never reach. It records what it receives into `seen`.
export function startHostListener(label: string, bind: string, seen: { add(s: string): void } | Recorder): HostListener {
  const add = "add" in seen ? (seen as { add(s: string): void }).add : () => {};
  const server = Bun.listen({
    hostname: bind,
    port: 0,
    socket: {
      open: (s) => {
        add(`[${label}] connection\n`);
        s.write("CONNECTED host service\n");
      },
      data: (_s, d) => add(`[${label}] ${d.toString().slice(0, 200)}\n`),
    },
  });
  return { label, host: bind, port: server.port, stop: () => server.stop(true) };
}

export function makeRecorder() {
  return recorder();
}
