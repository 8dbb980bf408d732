// Strict HTTP/1.1 message-head parsing for the gate. The gate is a security
// boundary and a proxy, so it parses exactly one way and rejects anything a
// different parser could read differently (request smuggling):
//   - lines end in CRLF; a bare LF or a bare CR is an error (400),
//   - obs-fold (a header line starting with SP/HTAB) is an error (400),
//   - no whitespace between a header name and its colon (400),
//   - header values may not contain CTLs other than HTAB (400),
//   - the request line is `METHOD SP target SP HTTP/1.x` exactly (400),
//   - size limits: request line (414) and whole head (431), header count (431).
// Pure functions over bytes and header lists: no sockets here.

export type HeaderList = [string, string][];

export interface RequestHead {
  method: string;
  target: string;
  version: "HTTP/1.0" | "HTTP/1.1";
  headers: HeaderList;
}

export interface ResponseHead {
  version: string;
  status: number;
  reason: string;
  headers: HeaderList;
}

export interface HeadLimits {
  maxRequestLine: number;
  maxHeadBytes: number;
  maxHeaders: number;
}

export const DEFAULT_HEAD_LIMITS: HeadLimits = {
  maxRequestLine: 8 * 1024,
  maxHeadBytes: 64 * 1024,
  maxHeaders: 128,
};

export type HeadError = { kind: "error"; status: number; reason: string };
export type ParseResult<T> = { kind: "incomplete" } | HeadError | { kind: "ok"; head: T; size: number };

const CR = 13;
const LF = 10;
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const err = (status: number, reason: string): HeadError => ({ kind: "error", status, reason });

// Find the end of the head (CRLFCRLF), checking line endings on the way.
// Returns the index just past the blank line, -1 if incomplete, or an error.
function scanHead(buf: Uint8Array, start: number, limits: HeadLimits, requestLine: boolean): number | HeadError {
  const max = Math.min(buf.length, start + limits.maxHeadBytes);
  let lineStart = start;
  let firstLine = true;
  for (let i = start; i < max; i++) {
    const c = buf[i]!;
    if (c === LF) return err(400, "bare LF in message head");
    if (c !== CR) continue;
    if (i + 1 >= buf.length) return -1;
    if (buf[i + 1] !== LF) return err(400, "bare CR in message head");
    if (firstLine && requestLine && i - lineStart > limits.maxRequestLine) return err(414, "request line too long");
    firstLine = false;
    if (i === lineStart) return i + 2; // empty line: end of head
    i++;
    lineStart = i + 1;
  }
  if (firstLine && requestLine && max - lineStart > limits.maxRequestLine) return err(414, "request line too long");
  if (buf.length - start >= limits.maxHeadBytes) return err(431, "request header fields too large");
  return -1;
}

function parseHeaderLines(lines: string[], limits: HeadLimits): HeaderList | HeadError {
  if (lines.length > limits.maxHeaders) return err(431, "too many header fields");
  const headers: HeaderList = [];
  for (const line of lines) {
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) return err(400, "obsolete line folding in header");
    const colon = line.indexOf(":");
    if (colon <= 0) return err(400, "malformed header line");
    const name = line.slice(0, colon);
    if (!TCHAR.test(name)) return err(400, "invalid header name");
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if ((c < 32 && c !== 9) || c === 127) return err(400, "control character in header value");
    }
    headers.push([name, value]);
  }
  return headers;
}

// Parses a request head starting at `start` (leading empty lines between
// keep-alive requests are skipped, as RFC 9112 allows).
export function parseRequestHead(
  buf: Uint8Array,
  limits: HeadLimits = DEFAULT_HEAD_LIMITS,
): ParseResult<RequestHead> {
  let start = 0;
  while (start + 1 < buf.length && buf[start] === CR && buf[start + 1] === LF && start < 8) start += 2;
  const end = scanHead(buf, start, limits, true);
  if (end === -1) return { kind: "incomplete" };
  if (typeof end !== "number") return end;
  // latin1: one char per byte, so non-ASCII bytes can't form tricks via
  // UTF-8 decoding; they are then rejected by the checks below.
  const text = Buffer.from(buf.buffer, buf.byteOffset + start, end - start - 4).toString("latin1");
  const lines = text.split("\r\n");
  const requestLine = lines[0]!;
  const parts = requestLine.split(" ");
  if (parts.length !== 3) return err(400, "malformed request line");
  const [method, target, version] = parts as [string, string, string];
  if (!TCHAR.test(method)) return err(400, "invalid method");
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") return err(505, "unsupported HTTP version");
  if (target.length === 0 || !/^[\x21-\x7e]+$/.test(target)) return err(400, "invalid request target");
  const headers = parseHeaderLines(lines.slice(1), limits);
  if (!Array.isArray(headers)) return headers;
  return { kind: "ok", head: { method, target, version, headers }, size: end };
}

// Responses come from upstreams the policy allowed; still bounded and
// careful, but the gate only needs the framing from them.
export function parseResponseHead(
  buf: Uint8Array,
  limits: HeadLimits = DEFAULT_HEAD_LIMITS,
): ParseResult<ResponseHead> {
  const end = scanHead(buf, 0, limits, false);
  if (end === -1) return { kind: "incomplete" };
  if (typeof end !== "number") return err(502, `upstream response: ${end.reason}`);
  const text = Buffer.from(buf.buffer, buf.byteOffset, end - 4).toString("latin1");
  const lines = text.split("\r\n");
  const m = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/.exec(lines[0]!);
  if (!m) return err(502, "upstream response: malformed status line");
  const headers = parseHeaderLines(lines.slice(1), limits);
  if (!Array.isArray(headers)) return err(502, `upstream response: ${headers.reason}`);
  return { kind: "ok", head: { version: m[1]!, status: Number(m[2]), reason: m[3] ?? "", headers }, size: end };
}

export function headerValues(headers: HeaderList, name: string): string[] {
  const n = name.toLowerCase();
  const out: string[] = [];
  for (const [k, v] of headers) if (k.toLowerCase() === n) out.push(v);
  return out;
}

export function headerValue(headers: HeaderList, name: string): string | undefined {
  const n = name.toLowerCase();
  for (const [k, v] of headers) if (k.toLowerCase() === n) return v;
  return undefined;
}

export type Framing = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" } | { kind: "close" };

// How a request body is delimited. Ambiguity is an error, never a guess:
// Content-Length together with Transfer-Encoding, several Content-Length
// fields (even equal ones), a non-decimal length, or any transfer coding
// other than exactly `chunked` is rejected.
export function requestFraming(head: RequestHead): { ok: true; framing: Framing } | HeadError {
  const te = headerValues(head.headers, "transfer-encoding");
  const cl = headerValues(head.headers, "content-length");
  if (te.length > 0 && cl.length > 0) return err(400, "both Content-Length and Transfer-Encoding");
  if (te.length > 0) {
    if (head.version === "HTTP/1.0") return err(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (te.length !== 1 || te[0]!.toLowerCase() !== "chunked") return err(501, "unsupported Transfer-Encoding");
    return { ok: true, framing: { kind: "chunked" } };
  }
  if (cl.length > 1) return err(400, "duplicate Content-Length");
  if (cl.length === 1) {
    if (!/^\d{1,15}$/.test(cl[0]!)) return err(400, "invalid Content-Length");
    const length = Number(cl[0]);
    return { ok: true, framing: length === 0 ? { kind: "none" } : { kind: "length", length } };
  }
  return { ok: true, framing: { kind: "none" } };
}

// How a response body is delimited (RFC 9112 section 6.3), given the request
// method it answers.
export function responseFraming(method: string, res: ResponseHead): { ok: true; framing: Framing } | HeadError {
  if (method === "HEAD" || (res.status >= 100 && res.status < 200) || res.status === 204 || res.status === 304) {
    return { ok: true, framing: { kind: "none" } };
  }
  const te = headerValues(res.headers, "transfer-encoding");
  if (te.length > 0) {
    const codings = te.join(",").split(",").map((s) => s.trim().toLowerCase());
    return { ok: true, framing: codings[codings.length - 1] === "chunked" ? { kind: "chunked" } : { kind: "close" } };
  }
  const cl = headerValues(res.headers, "content-length");
  if (cl.length > 0) {
    const uniq = new Set(cl.flatMap((v) => v.split(",").map((s) => s.trim())));
    if (uniq.size !== 1) return err(502, "upstream response: conflicting Content-Length");
    const v = [...uniq][0]!;
    if (!/^\d{1,15}$/.test(v)) return err(502, "upstream response: invalid Content-Length");
    const length = Number(v);
    return { ok: true, framing: length === 0 ? { kind: "none" } : { kind: "length", length } };
  }
  return { ok: true, framing: { kind: "close" } };
}

// Fields that describe one hop, not the message, plus the framing and Host
// fields the gate sets itself: never copied from one side to the other.
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
  "expect",
  "host",
]);

// Whether the sender of a message (request or response) closes the
// connection after it: HTTP/1.0 unless it asks to keep it alive, HTTP/1.1
// when it says `Connection: close`.
export function wantsClose(version: string, headers: HeaderList): boolean {
  const conn = headerValues(headers, "connection").join(",").toLowerCase();
  if (version === "HTTP/1.0") return !/\bkeep-alive\b/.test(conn);
  return /\bclose\b/.test(conn);
}

// Drops hop-by-hop fields, the ones named in Connection, and the framing
// and Host fields the gate sets itself.
export function endToEndHeaders(headers: HeaderList): HeaderList {
  const named = new Set(
    headerValues(headers, "connection")
      .join(",")
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  return headers.filter(([k]) => {
    const l = k.toLowerCase();
    return !HOP_BY_HOP.has(l) && !named.has(l);
  });
}

export function serializeHeaders(headers: HeaderList): string {
  let s = "";
  for (const [k, v] of headers) s += `${k}: ${v}\r\n`;
  return s;
}
