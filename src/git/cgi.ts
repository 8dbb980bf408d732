// `git http-backend` as a CGI program behind a fetch-style handler:
// Request -> CGI environment + stdin, CGI stdout -> Response. Bodies are
// streamed both ways (a push of hundreds of MB never sits in memory), and a
// gzip request body is passed through untouched: http-backend inflates it
// itself when told the Content-Encoding (RFC 3875 HTTP_* variables).

export interface CgiTarget {
  projectRoot: string; // GIT_PROJECT_ROOT
  pathInfo: string; // e.g. /origin.git/info/refs
  remoteUser: string;
}

export function cgiEnv(req: Request, t: CgiTarget, base: Record<string, string>): Record<string, string> {
  const url = new URL(req.url);
  const env: Record<string, string> = {
    ...base,
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_PROTOCOL: "HTTP/1.1",
    SERVER_SOFTWARE: "claude-bottle-gate",
    REQUEST_METHOD: req.method,
    GIT_PROJECT_ROOT: t.projectRoot,
    PATH_INFO: t.pathInfo,
    QUERY_STRING: url.search.replace(/^\?/, ""),
    // Serve the mirrors without a git-daemon-export-ok file each.
    GIT_HTTP_EXPORT_ALL: "1",
    // Setting REMOTE_USER is what enables receive-pack over http-backend.
    REMOTE_USER: t.remoteUser,
    REMOTE_ADDR: "127.0.0.1",
  };
  const ct = req.headers.get("content-type");
  if (ct) env.CONTENT_TYPE = ct;
  const cl = req.headers.get("content-length");
  if (cl && /^\d+$/.test(cl)) env.CONTENT_LENGTH = cl;
  const ce = req.headers.get("content-encoding");
  if (ce) env.HTTP_CONTENT_ENCODING = ce;
  // Protocol v2 is negotiated through this header.
  const gp = req.headers.get("git-protocol");
  if (gp) env.HTTP_GIT_PROTOCOL = gp;
  return env;
}

export interface CgiHead {
  status: number;
  headers: [string, string][];
  bodyStart: number; // offset of the body in the buffer that was parsed
}

// Parse the CGI response header block; null while it is incomplete.
export function parseCgiHead(buf: Uint8Array): CgiHead | null {
  let end = -1;
  let sep = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 10) continue;
    if (buf[i + 1] === 10) {
      end = i;
      sep = 2;
      break;
    }
    if (buf[i + 1] === 13 && buf[i + 2] === 10) {
      end = i;
      sep = 3;
      break;
    }
  }
  if (end < 0) return null;
  const text = new TextDecoder().decode(buf.subarray(0, end));
  let status = 200;
  const headers: [string, string][] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const c = line.indexOf(":");
    if (c <= 0) continue;
    const k = line.slice(0, c).trim();
    const v = line.slice(c + 1).trim();
    if (k.toLowerCase() === "status") status = parseInt(v, 10) || 500;
    else headers.push([k, v]);
  }
  return { status, headers, bodyStart: end + sep };
}

const MAX_HEAD = 64 * 1024;

// Run the CGI program; resolves once its header block is read. `done`
// settles when the program has exited and the response body was consumed
// (or cancelled).
export async function serveCgi(
  argv: string[],
  env: Record<string, string>,
  req: Request,
  onStderr: (text: string) => void,
): Promise<{ response: Response; done: Promise<void> }> {
  const proc = Bun.spawn(argv, {
    env,
    stdin: req.body ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const errText = new Response(proc.stderr).text().then((t) => {
    if (t.trim()) onStderr(t.trim());
  });
  const reader = proc.stdout.getReader();
  let buf = new Uint8Array(0);
  let head: CgiHead | null = null;
  while (!head) {
    const r = await reader.read();
    if (r.done) break;
    const next = new Uint8Array(buf.length + r.value.length);
    next.set(buf);
    next.set(r.value, buf.length);
    buf = next;
    head = parseCgiHead(buf);
    if (!head && buf.length > MAX_HEAD) break;
  }
  if (!head) {
    proc.kill();
    await Promise.all([proc.exited, errText]);
    return {
      response: new Response("gate: git http-backend produced no valid response\n", { status: 502 }),
      done: Promise.resolve(),
    };
  }
  const rest = buf.subarray(head.bodyStart);
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const settle = () => {
    Promise.all([proc.exited, errText]).then(() => finish(), () => finish());
  };
  const body = new ReadableStream<Uint8Array>({
    start(ctrl) {
      if (rest.length > 0) ctrl.enqueue(rest);
    },
    async pull(ctrl) {
      const r = await reader.read();
      if (r.done) {
        ctrl.close();
        settle();
      } else {
        ctrl.enqueue(r.value);
      }
    },
    cancel() {
      proc.kill();
      settle();
    },
  });
  return { response: new Response(body, { status: head.status, headers: head.headers }), done };
}
