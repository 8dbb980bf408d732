import type { Duplex } from "node:stream";
import { writeAll } from "../io.ts";
import type { AuditRecord } from "../types.ts";
import { headerValue, type Framing, type RequestHead } from "./head.ts";

// The answers the gate writes itself: refusals (403 `blocked: <reason>`,
// which tooling inside the bottle can show as is) and its own errors.

// A refusal on its way to the client and the audit: thrown anywhere below
// the dispatch (server.ts handleRequest), which writes the one audit line
// and the answer.
export class Deny extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly layer: AuditRecord["layer"],
    // The host as the audit may show it, when the request's own host
    // carried a secret (redact.ts).
    readonly auditHost?: string,
    // The whole answer, when the client's protocol needs its own (a git
    // push refused in git's report format); default `blocked: <reason>`.
    readonly answer?: Buffer,
  ) {
    super(reason);
  }
}

// The answer to a CONNECT the gate lets through.
export const ESTABLISHED = "HTTP/1.1 200 Connection established\r\n\r\n";

export const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  414: "URI Too Long",
  417: "Expectation Failed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

export function simpleResponse(status: number, body: string, close: boolean, extra = ""): string {
  const text = STATUS_TEXT[status] ?? "Error";
  const b = Buffer.byteLength(body);
  return (
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${b}\r\n` +
    `${extra}${close ? "connection: close\r\n" : ""}\r\n${body}`
  );
}

// A whole answer the gate wrote itself (Deny.answer); the connection closes.
export async function sendAnswer(sock: Duplex, answer: Buffer): Promise<void> {
  try {
    await writeAll(sock, answer);
  } catch {
    /* client gone */
  }
  sock.end();
}

// A 403 reads `blocked: <reason>`; other statuses carry the reason as is.
export async function sendBlocked(sock: Duplex, status: number, reason: string, close: boolean): Promise<void> {
  const body = status === 403 ? `blocked: ${reason}\n` : `${reason}\n`;
  try {
    await writeAll(sock, simpleResponse(status, body, close));
  } catch {
    /* client gone */
  }
  if (close) sock.end();
}

// Expect (RFC 9110 section 10.1.1), for upstreams and virtual hosts alike:
// the gate answers 100-continue itself, because it reads (and scans) the
// body before anything behind it sees a byte; any other expectation is
// one it cannot meet (417).
export async function answerExpect(sock: Duplex, head: RequestHead, framing: Framing): Promise<void> {
  const expect = headerValue(head.headers, "expect");
  if (expect === undefined) return;
  if (expect.toLowerCase() !== "100-continue") throw new Deny(417, "gate: unsupported Expect", "gate");
  if (framing.kind !== "none") await writeAll(sock, "HTTP/1.1 100 Continue\r\n\r\n");
}
